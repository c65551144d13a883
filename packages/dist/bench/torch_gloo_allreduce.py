# PyTorch's own Gloo all-reduce, timed like gloo_bench.ts times ours (rank 0 prints one line per size).
# Run by gloo_bench.ts with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT and BENCH_SIZES_MB set.
import os
import time

import torch
import torch.distributed as dist


def main() -> None:
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    init = f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world_size)
    for megabytes in [int(size) for size in os.environ["BENCH_SIZES_MB"].split(",")]:
        tensor = torch.ones(megabytes * 1024 * 1024 // 4, dtype=torch.float32)
        dist.all_reduce(tensor)  # warm-up
        repeats = 2 if megabytes >= 100 else 3 if megabytes >= 16 else 10
        dist.barrier()
        start = time.perf_counter()
        for _ in range(repeats):
            dist.all_reduce(tensor)
        seconds = (time.perf_counter() - start) / repeats
        if rank == 0:
            bus = tensor.numel() * 4 * 2 * (world_size - 1) / world_size
            print(f"torch-gloo {torch.__version__:<8} ranks {world_size}  {megabytes:3d} MB  {seconds * 1000:8.1f} ms  bus {bus / seconds / 1e9:.3f} GB/s", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
