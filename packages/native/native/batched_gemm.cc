// Batched GEMMs of many small entries (attention's [B·H] blocks of T×T×d at training lengths) split over the
// worker threads, one entry per call, with OpenBLAS single-threaded meanwhile: each of its own multi-threaded
// calls on a T=128 block pays a thread hand-off comparable to the product (~10 GFLOP/s measured against ~50 for
// one large GEMM on the same loaded 2-core machine).
#include <cblas.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "kernels.h"

namespace rlhfjs {

// Entries of at most this many multiply-adds (m·n·k) go to the batch-parallel path: 2^22 covers T = S = 256,
// d = 64; larger products are left to OpenBLAS's own threading.
static constexpr int64_t kSmallGemmWork = int64_t{1} << 22;

// [0, count) in `threads` contiguous ranges (ParallelFor reads OpenBLAS's thread count, set to 1 meanwhile).
template <typename F>
static void ParallelForThreads(int64_t count, int threads, const F& body) {
  const int64_t step = (count + threads - 1) / threads;
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) {
    const int64_t begin = std::min(count, t * step), end = std::min(count, (t + 1) * step);
    if (begin < end) workers.emplace_back([&body, begin, end] { body(begin, end); });
  }
  body(0, std::min(count, step));
  for (std::thread& worker : workers) worker.join();
}

bool GemmBatchParallel(const float* a, const float* b, float* c, int64_t batch, int m, int n, int k,
                       bool transposeA, bool transposeB, const int64_t* aOffsets, const int64_t* bOffsets) {
  const int threads = WorkerThreads();
  if (batch < 2 || threads < 2 || static_cast<int64_t>(m) * n * k > kSmallGemmWork) return false;
  const int lda = std::max(transposeA ? m : k, 1);
  const int ldb = std::max(transposeB ? k : n, 1);
  const int64_t outSize = static_cast<int64_t>(m) * n;
  openblas_set_num_threads(1);
  ParallelForThreads(batch, threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, m,
                  n, k, 1.0f, a + aOffsets[i], lda, b + bOffsets[i], ldb, 0.0f, c + i * outSize, std::max(n, 1));
    }
  });
  openblas_set_num_threads(threads);
  return true;
}

}  // namespace rlhfjs
