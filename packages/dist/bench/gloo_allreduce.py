# PyTorch's Gloo all-reduce on 127.0.0.1: the reference allreduce_bench.ts measures our engines against, in the same run.
# Env: RANK, WORLD_SIZE, MASTER_PORT, SIZES_MB (comma list). Rank 0 prints "GLOO <mb> <seconds per all-reduce> <CPU seconds> <minor page faults> <kernel CPU seconds> per all-reduce".
import os
import resource
import time

import torch
import torch.distributed as dist

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['MASTER_PORT']}", rank=rank, world_size=world)
for megabytes in [float(entry) for entry in os.environ["SIZES_MB"].split(",")]:
    buffer = torch.ones(int(megabytes * 1024 * 1024 / 4), dtype=torch.float32)
    for _ in range(2):  # warm-up, two back to back like allreduce_bench.ts
        dist.all_reduce(buffer)
    repeats = int(os.environ["BENCH_REPEATS"]) if "BENCH_REPEATS" in os.environ else 2 if megabytes >= 100 else 3 if megabytes >= 16 else 10
    dist.barrier()
    start, cpu_start, usage_start = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(repeats):
        dist.all_reduce(buffer)
    seconds = (time.perf_counter() - start) / repeats
    cpu_seconds = (time.process_time() - cpu_start) / repeats  # every thread of the process, like node's cpuUsage
    usage = resource.getrusage(resource.RUSAGE_SELF)
    faults = (usage.ru_minflt - usage_start.ru_minflt) / repeats
    system_seconds = (usage.ru_stime - usage_start.ru_stime) / repeats
    if rank == 0:
        print(f"GLOO {megabytes:g} {seconds:.6f} {cpu_seconds:.6f} {faults:g} {system_seconds:.6f}", flush=True)
dist.destroy_process_group()
