// One persistent pool of worker threads for every multi-threaded kernel of the addon (ParallelFor, the batched
// GEMM, NormGrad). Starting a std::thread per call costs ~20–60 µs on these machines, comparable to the work of
// most elementwise ops at training sizes; the pool's workers are created once and parked between jobs.
#pragma once
#include <cstdint>
#include <functional>

namespace rlhfjs {

// Runs task(0), ..., task(parts − 1), each exactly once, on up to `threads` threads: the calling thread and
// threads − 1 pool workers (created on first need, kept for the life of the process). Parts are claimed
// dynamically, so a worker that wakes late costs the caller nothing but its share. The first exception thrown by a
// part is rethrown on the calling thread once every part has finished. Callable from any thread; a call made from
// inside a part (nested parallelism) or while the pool is busy with another thread's job runs its parts inline on
// the calling thread, so it can never deadlock.
void RunParts(int parts, int threads, const std::function<void(int)>& task);

// Workers the pool holds now (0 before the first multi-threaded call). For tests and diagnostics.
int PoolWorkerCount();

}  // namespace rlhfjs
