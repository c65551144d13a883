// Batched GEMMs of many small entries (attention's [B·H] blocks of T×T×d at training lengths) split over the
// worker threads, one entry per call, with OpenBLAS single-threaded meanwhile: each of its own multi-threaded
// calls on a T=128 block pays a thread hand-off comparable to the product (~10 GFLOP/s measured against ~50 for
// one large GEMM on the same loaded 2-core machine).
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels.h"
#include "thread_pool.h"

namespace rlhfjs {

// Entries of at most this many multiply-adds (m·n·k) go to the batch-parallel path: 2^22 covers T = S = 256,
// d = 64; larger products are left to OpenBLAS's own threading.
static constexpr int64_t kSmallGemmWork = int64_t{1} << 22;

// Total multiply-adds (batch·m·n·k) below which the whole batch runs on the calling thread: handing work to a
// second thread costs a few µs, which such a batch (a decode step's or a tiny model's attention) does not repay.
static constexpr int64_t kMinimumThreadedWork = int64_t{1} << 17;

bool GemmBatchParallel(const float* a, const float* b, float* c, int64_t batch, int m, int n, int k,
                       bool transposeA, bool transposeB, const int64_t* aOffsets, const int64_t* bOffsets) {
  const int threads = WorkerThreads();
  const int64_t entryWork = static_cast<int64_t>(m) * n * k;
  if (batch < 2 || threads < 2 || entryWork > kSmallGemmWork) return false;
  const int lda = std::max(transposeA ? m : k, 1);
  const int ldb = std::max(transposeB ? k : n, 1);
  const int64_t outSize = static_cast<int64_t>(m) * n;
  const auto entries = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, m,
                  n, k, 1.0f, a + aOffsets[i], lda, b + bOffsets[i], ldb, 0.0f, c + i * outSize, std::max(n, 1));
    }
  };
  openblas_set_num_threads(1);
  if (batch * entryWork < kMinimumThreadedWork) {
    entries(0, batch);
  } else {
    // Contiguous ranges of entries, claimed by the pool's threads (thread_pool.h).
    const int parts = static_cast<int>(std::min<int64_t>(batch, 2 * static_cast<int64_t>(threads)));
    const int64_t step = (batch + parts - 1) / parts;
    try {
      RunParts(parts, threads, [&](int part) { entries(std::min(batch, part * step), std::min(batch, (part + 1) * step)); });
    } catch (...) {
      openblas_set_num_threads(threads);
      throw;
    }
  }
  openblas_set_num_threads(threads);
  return true;
}

}  // namespace rlhfjs
