// Small-rows products (small_rows.h). The inner loops use GCC vector extensions (8 floats), compiled once per
// instruction set (AVX-512 / AVX2+FMA / baseline) and picked at load time by the CPU's features (target_clones).
#include "small_rows.h"

#include <algorithm>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RLHFJS_MULTIVERSION __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define RLHFJS_MULTIVERSION
#endif
// the vector helpers are always inlined into their per-instruction-set callers: no vector ABI crosses a call
#pragma GCC diagnostic ignored "-Wpsabi"
#define RLHFJS_INLINE inline __attribute__((always_inline))

namespace rlhfjs {
namespace {

typedef float Vector8 __attribute__((vector_size(32)));
// the same type for unaligned loads and stores of plain float memory
typedef float Vector8Unaligned __attribute__((vector_size(32), aligned(4), may_alias));

RLHFJS_INLINE Vector8 Load(const float* p) { return *reinterpret_cast<const Vector8Unaligned*>(p); }
RLHFJS_INLINE void Store(float* p, Vector8 v) { *reinterpret_cast<Vector8Unaligned*>(p) = v; }
RLHFJS_INLINE Vector8 Broadcast(float v) { return Vector8{v, v, v, v, v, v, v, v}; }
RLHFJS_INLINE float Sum(Vector8 v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

constexpr int64_t kTile = 32;  // output columns per tile: 4 vectors per row
constexpr int kRowGroup = 4;   // rows per pass over a tile: 16 vector accumulators

// y[r, j0 : j0 + 32] for R rows starting at x/y: streams w[:, j0 : j0 + 32].
template <int R>
RLHFJS_INLINE void AffineTile(const float* x, const float* w, const float* bias, float* y, int64_t k, int64_t n,
                              int64_t j0, bool accumulate) {
  Vector8 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) acc[r][c] = accumulate ? Load(y + r * n + j0 + 8 * c) : Broadcast(0.0f);
  const float* column = w + j0;
  for (int64_t i = 0; i < k; ++i, column += n) {
    const Vector8 w0 = Load(column), w1 = Load(column + 8), w2 = Load(column + 16), w3 = Load(column + 24);
    for (int r = 0; r < R; ++r) {
      const Vector8 v = Broadcast(x[r * k + i]);
      acc[r][0] += v * w0;
      acc[r][1] += v * w1;
      acc[r][2] += v * w2;
      acc[r][3] += v * w3;
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) {
      Vector8 value = acc[r][c];
      if (bias != nullptr) value += Load(bias + j0 + 8 * c);
      Store(y + r * n + j0 + 8 * c, value);
    }
}

// Tiles [tileBegin, tileEnd) of all rows, then (when the range reaches the end) the columns past the last tile.
RLHFJS_MULTIVERSION
void AffineRange(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t k, int64_t n,
                 bool accumulate, int64_t tileBegin, int64_t tileEnd) {
  for (int64_t t = tileBegin; t < tileEnd; ++t) {
    const int64_t j0 = t * kTile;
    int64_t r = 0;
    for (; r + kRowGroup <= rows; r += kRowGroup) AffineTile<4>(x + r * k, w, bias, y + r * n, k, n, j0, accumulate);
    switch (rows - r) {
      case 3: AffineTile<3>(x + r * k, w, bias, y + r * n, k, n, j0, accumulate); break;
      case 2: AffineTile<2>(x + r * k, w, bias, y + r * n, k, n, j0, accumulate); break;
      case 1: AffineTile<1>(x + r * k, w, bias, y + r * n, k, n, j0, accumulate); break;
      default: break;
    }
  }
  const int64_t tiles = n / kTile;
  if (tileEnd < tiles || tiles * kTile == n) return;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = tiles * kTile; j < n; ++j) {
      float total = 0.0f;
      for (int64_t i = 0; i < k; ++i) total += x[r * k + i] * w[i * n + j];
      if (bias != nullptr) total += bias[j];
      y[r * n + j] = accumulate ? y[r * n + j] + total : total;
    }
  }
}

// y[:, j] for output columns [jBegin, jEnd): four rows of w (four outputs) at a time against every row of x.
RLHFJS_MULTIVERSION
void TransposedRange(const float* x, const float* w, float* y, int64_t rows, int64_t k, int64_t n, int64_t jBegin,
                     int64_t jEnd) {
  const int64_t vectorEnd = k - k % 8;
  int64_t j = jBegin;
  for (; j + 4 <= jEnd; j += 4) {
    const float* w0 = w + j * k;
    const float* w1 = w0 + k;
    const float* w2 = w1 + k;
    const float* w3 = w2 + k;
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * k;
      Vector8 a0 = Broadcast(0.0f), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t i = 0; i < vectorEnd; i += 8) {
        const Vector8 v = Load(xr + i);
        a0 += v * Load(w0 + i);
        a1 += v * Load(w1 + i);
        a2 += v * Load(w2 + i);
        a3 += v * Load(w3 + i);
      }
      float s0 = Sum(a0), s1 = Sum(a1), s2 = Sum(a2), s3 = Sum(a3);
      for (int64_t i = vectorEnd; i < k; ++i) {
        s0 += xr[i] * w0[i];
        s1 += xr[i] * w1[i];
        s2 += xr[i] * w2[i];
        s3 += xr[i] * w3[i];
      }
      float* out = y + r * n + j;
      out[0] = s0;
      out[1] = s1;
      out[2] = s2;
      out[3] = s3;
    }
  }
  for (; j < jEnd; ++j) {
    const float* wj = w + j * k;
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * k;
      Vector8 a = Broadcast(0.0f);
      for (int64_t i = 0; i < vectorEnd; i += 8) a += Load(xr + i) * Load(wj + i);
      float s = Sum(a);
      for (int64_t i = vectorEnd; i < k; ++i) s += xr[i] * wj[i];
      y[r * n + j] = s;
    }
  }
}

// Multiply-adds below which a product runs on the calling thread (waking a worker costs more than it saves).
constexpr int64_t kWorkPerThread = int64_t{1} << 20;

}  // namespace

void SmallRowsAffine(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t k, int64_t n,
                     bool accumulate) {
  if (rows <= 0 || n <= 0) return;
  const int64_t tiles = n / kTile;
  const int64_t perTile = std::max<int64_t>(1, rows * k * kTile);
  if (tiles < 2 || rows * k * n < 2 * kWorkPerThread) {
    AffineRange(x, w, bias, y, rows, k, n, accumulate, 0, tiles);
    return;
  }
  ParallelFor(tiles, std::max<int64_t>(1, kWorkPerThread / perTile), [&](int64_t begin, int64_t end) {
    AffineRange(x, w, bias, y, rows, k, n, accumulate, begin, end);
  });
}

void SmallRowsTransposed(const float* x, const float* w, float* y, int64_t rows, int64_t k, int64_t n) {
  if (rows <= 0 || n <= 0) return;
  if (rows * k * n < 2 * kWorkPerThread) {
    TransposedRange(x, w, y, rows, k, n, 0, n);
    return;
  }
  // ranges of whole 4-column groups, so each thread keeps the fast path
  const int64_t groups = (n + 3) / 4;
  ParallelFor(groups, std::max<int64_t>(1, kWorkPerThread / std::max<int64_t>(1, rows * k * 4)),
              [&](int64_t begin, int64_t end) { TransposedRange(x, w, y, rows, k, n, begin * 4, std::min(n, end * 4)); });
}

}  // namespace rlhfjs
