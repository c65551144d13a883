# PyTorch's Gloo all-reduce on 127.0.0.1: the reference allreduce_bench.ts measures our engines against, in the same run.
# Env: RANK, WORLD_SIZE, MASTER_PORT, SIZES_MB (comma list). Rank 0 prints "GLOO <mb> <seconds per all-reduce>".
import os
import time

import torch
import torch.distributed as dist

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['MASTER_PORT']}", rank=rank, world_size=world)
for megabytes in [float(entry) for entry in os.environ["SIZES_MB"].split(",")]:
    buffer = torch.ones(int(megabytes * 1024 * 1024 / 4), dtype=torch.float32)
    dist.all_reduce(buffer)  # warm-up
    repeats = 2 if megabytes >= 100 else 3 if megabytes >= 16 else 10
    dist.barrier()
    start = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(buffer)
    seconds = (time.perf_counter() - start) / repeats
    if rank == 0:
        print(f"GLOO {megabytes:g} {seconds:.6f}", flush=True)
dist.destroy_process_group()
