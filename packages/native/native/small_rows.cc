// Small-rows products (small_rows.h). The inner loops use GCC vector extensions (8 floats), compiled once per
// instruction set (AVX-512 / AVX2+FMA / the baseline) and picked once by the CPU's features at run time.
#include "small_rows.h"

#include <algorithm>
#include <vector>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define RLHFJS_X86_DISPATCH 1
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

// Output floats of a panel: the [rows, width] outputs stay in L1 while w streams past them, and each w row is read
// in pieces of `width` contiguous floats (whole rows when one output row fits), so the prefetchers keep up.
constexpr int64_t kPanelFloats = 8192;
// Columns per unit of the split over threads.
constexpr int64_t kColumnUnit = 64;

// y[r, j0 : j1] for every row: initialises the panel (bias / 0 / the residual already there), then adds four rows
// of w at a time (a rank-4 update: one load and store of y per four multiply-adds), each w row read contiguously.
RLHFJS_INLINE void AffinePanel(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t k,
                               int64_t n, int64_t j0, int64_t j1, bool accumulate) {
  const int64_t width = j1 - j0;
  const int64_t vectorEnd = width - width % 8;
  for (int64_t r = 0; r < rows; ++r) {
    float* out = y + r * n + j0;
    for (int64_t c = 0; c < width; ++c) {
      const float start = accumulate ? out[c] : 0.0f;
      out[c] = bias == nullptr ? start : start + bias[j0 + c];
    }
  }
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const float* w0 = w + i * n + j0;
    const float* w1 = w0 + n;
    const float* w2 = w1 + n;
    const float* w3 = w2 + n;
    int64_t r = 0;
    for (; r + 2 <= rows; r += 2) {  // two rows share each load of w
      const float* xr = x + r * k + i;
      const float* xs = xr + k;
      const Vector8 x0 = Broadcast(xr[0]), x1 = Broadcast(xr[1]), x2 = Broadcast(xr[2]), x3 = Broadcast(xr[3]);
      const Vector8 z0 = Broadcast(xs[0]), z1 = Broadcast(xs[1]), z2 = Broadcast(xs[2]), z3 = Broadcast(xs[3]);
      float* out = y + r * n + j0;
      float* next = out + n;
      for (int64_t c = 0; c < vectorEnd; c += 8) {
        const Vector8 a = Load(w0 + c), b = Load(w1 + c), d = Load(w2 + c), e = Load(w3 + c);
        Store(out + c, Load(out + c) + x0 * a + x1 * b + x2 * d + x3 * e);
        Store(next + c, Load(next + c) + z0 * a + z1 * b + z2 * d + z3 * e);
      }
      for (int64_t c = vectorEnd; c < width; ++c) {
        out[c] += xr[0] * w0[c] + xr[1] * w1[c] + xr[2] * w2[c] + xr[3] * w3[c];
        next[c] += xs[0] * w0[c] + xs[1] * w1[c] + xs[2] * w2[c] + xs[3] * w3[c];
      }
    }
    for (; r < rows; ++r) {
      const float* xr = x + r * k + i;
      const Vector8 x0 = Broadcast(xr[0]), x1 = Broadcast(xr[1]), x2 = Broadcast(xr[2]), x3 = Broadcast(xr[3]);
      float* out = y + r * n + j0;
      for (int64_t c = 0; c < vectorEnd; c += 8) {
        Store(out + c, Load(out + c) + x0 * Load(w0 + c) + x1 * Load(w1 + c) + x2 * Load(w2 + c) + x3 * Load(w3 + c));
      }
      for (int64_t c = vectorEnd; c < width; ++c) out[c] += xr[0] * w0[c] + xr[1] * w1[c] + xr[2] * w2[c] + xr[3] * w3[c];
    }
  }
  for (; i < k; ++i) {
    const float* w0 = w + i * n + j0;
    for (int64_t r = 0; r < rows; ++r) {
      const float xv = x[r * k + i];
      const Vector8 x0 = Broadcast(xv);
      float* out = y + r * n + j0;
      for (int64_t c = 0; c < vectorEnd; c += 8) Store(out + c, Load(out + c) + x0 * Load(w0 + c));
      for (int64_t c = vectorEnd; c < width; ++c) out[c] += xv * w0[c];
    }
  }
}

// Columns [columnBegin, columnEnd) of all rows, in panels of at most kPanelFloats outputs.
RLHFJS_INLINE void AffineRangeBody(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t k,
                                   int64_t n, bool accumulate, int64_t columnBegin, int64_t columnEnd) {
  const int64_t width = std::max<int64_t>(8, (kPanelFloats / std::max<int64_t>(rows, 1)) / 8 * 8);
  for (int64_t j0 = columnBegin; j0 < columnEnd; j0 += width) {
    AffinePanel(x, w, bias, y, rows, k, n, j0, std::min(columnEnd, j0 + width), accumulate);
  }
}

// y[:, j] for output columns [jBegin, jEnd): four rows of w (four outputs) at a time against every row of x.
RLHFJS_INLINE void TransposedRangeBody(const float* x, const float* w, float* y, int64_t rows, int64_t k, int64_t n, int64_t jBegin,
                     int64_t jEnd) {
  const int64_t vectorEnd = k - k % 8;
  int64_t j = jBegin;
  for (; j + 4 <= jEnd; j += 4) {
    const float* w0 = w + j * k;
    const float* w1 = w0 + k;
    const float* w2 = w1 + k;
    const float* w3 = w2 + k;
    int64_t r = 0;
    for (; r + 2 <= rows; r += 2) {  // two rows share each load of w
      const float* xr = x + r * k;
      const float* xs = xr + k;
      Vector8 a0 = Broadcast(0.0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      for (int64_t i = 0; i < vectorEnd; i += 8) {
        const Vector8 u = Load(xr + i), v = Load(xs + i);
        const Vector8 c0 = Load(w0 + i), c1 = Load(w1 + i), c2 = Load(w2 + i), c3 = Load(w3 + i);
        a0 += u * c0;
        a1 += u * c1;
        a2 += u * c2;
        a3 += u * c3;
        b0 += v * c0;
        b1 += v * c1;
        b2 += v * c2;
        b3 += v * c3;
      }
      float s0 = Sum(a0), s1 = Sum(a1), s2 = Sum(a2), s3 = Sum(a3);
      float t0 = Sum(b0), t1 = Sum(b1), t2 = Sum(b2), t3 = Sum(b3);
      for (int64_t i = vectorEnd; i < k; ++i) {
        s0 += xr[i] * w0[i];
        s1 += xr[i] * w1[i];
        s2 += xr[i] * w2[i];
        s3 += xr[i] * w3[i];
        t0 += xs[i] * w0[i];
        t1 += xs[i] * w1[i];
        t2 += xs[i] * w2[i];
        t3 += xs[i] * w3[i];
      }
      float* out = y + r * n + j;
      out[0] = s0;
      out[1] = s1;
      out[2] = s2;
      out[3] = s3;
      out[n] = t0;
      out[n + 1] = t1;
      out[n + 2] = t2;
      out[n + 3] = t3;
    }
    for (; r < rows; ++r) {
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

// One copy of each body per instruction set (the bodies are always inlined, so each copy is compiled for its set).
#define RLHFJS_AFFINE_ARGS                                                                                           \
  const float *x, const float *w, const float *bias, float *y, int64_t rows, int64_t k, int64_t n, bool accumulate, \
      int64_t begin, int64_t end
#define RLHFJS_TRANSPOSED_ARGS \
  const float *x, const float *w, float *y, int64_t rows, int64_t k, int64_t n, int64_t begin, int64_t end
void AffineRangeBaseline(RLHFJS_AFFINE_ARGS) { AffineRangeBody(x, w, bias, y, rows, k, n, accumulate, begin, end); }
void TransposedRangeBaseline(RLHFJS_TRANSPOSED_ARGS) { TransposedRangeBody(x, w, y, rows, k, n, begin, end); }
#ifdef RLHFJS_X86_DISPATCH
__attribute__((target("avx2,fma"))) void AffineRangeAvx2(RLHFJS_AFFINE_ARGS) {
  AffineRangeBody(x, w, bias, y, rows, k, n, accumulate, begin, end);
}
__attribute__((target("avx2,fma"))) void TransposedRangeAvx2(RLHFJS_TRANSPOSED_ARGS) {
  TransposedRangeBody(x, w, y, rows, k, n, begin, end);
}
__attribute__((target("avx512f,avx512vl,avx2,fma"))) void AffineRangeAvx512(RLHFJS_AFFINE_ARGS) {
  AffineRangeBody(x, w, bias, y, rows, k, n, accumulate, begin, end);
}
__attribute__((target("avx512f,avx512vl,avx2,fma"))) void TransposedRangeAvx512(RLHFJS_TRANSPOSED_ARGS) {
  TransposedRangeBody(x, w, y, rows, k, n, begin, end);
}
#endif

using AffineRangeFunction = void (*)(RLHFJS_AFFINE_ARGS);
using TransposedRangeFunction = void (*)(RLHFJS_TRANSPOSED_ARGS);

// The widest instruction set this CPU runs (checked once).
int InstructionSet() {
#ifdef RLHFJS_X86_DISPATCH
  static const int chosen = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
  }();
  return chosen;
#else
  return 0;
#endif
}

AffineRangeFunction AffineRange() {
#ifdef RLHFJS_X86_DISPATCH
  switch (InstructionSet()) {
    case 2: return AffineRangeAvx512;
    case 1: return AffineRangeAvx2;
    default: break;
  }
#endif
  return AffineRangeBaseline;
}

TransposedRangeFunction TransposedRange() {
#ifdef RLHFJS_X86_DISPATCH
  switch (InstructionSet()) {
    case 2: return TransposedRangeAvx512;
    case 1: return TransposedRangeAvx2;
    default: break;
  }
#endif
  return TransposedRangeBaseline;
}

// When a product splits its columns over the worker threads: a weight past ~2 MB (beyond this core's L2: a
// memory-bound read that two cores stream faster), or a product past 2^23 multiply-adds. Smaller products (the
// reference config's 256×1024 weights even at 8 rows) stay on the calling thread: waking a worker for them costs
// more than it saves, and on a loaded machine a descheduled worker stalls the whole step.
constexpr int64_t kLargeWeight = int64_t{1} << 19;
constexpr int64_t kLargeWork = int64_t{1} << 23;

bool Split(int64_t rows, int64_t k, int64_t n) { return k * n >= kLargeWeight || rows * k * n >= kLargeWork; }

}  // namespace

void SmallRowsAffine(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t k, int64_t n,
                     bool accumulate) {
  if (rows <= 0 || n <= 0) return;
  const AffineRangeFunction range = AffineRange();
  if (!Split(rows, k, n) || n < 2 * kColumnUnit) {
    range(x, w, bias, y, rows, k, n, accumulate, 0, n);
    return;
  }
  const int threads = WorkerThreads();
  if (rows == 1 && threads > 1 && k >= 4 * threads) {
    // One row (batch-1 decoding): split the reduction instead, so each thread streams one contiguous block of whole
    // w rows (one long read the prefetchers follow, not a column band of every row); the partial sums are added
    // into y afterwards (n floats per thread).
    std::vector<float> partial(static_cast<size_t>((threads - 1) * n));
    const int64_t share = (k + threads - 1) / threads;
    ParallelFor(threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t part = begin; part < end; ++part) {
        const int64_t k0 = std::min(k, part * share);
        const int64_t k1 = std::min(k, k0 + share);
        float* target = part == 0 ? y : partial.data() + (part - 1) * n;
        if (part == 0) range(x, w, bias, y, 1, k1 - k0, n, accumulate, 0, n);
        else if (k1 > k0) range(x + k0, w + k0 * n, nullptr, target, 1, k1 - k0, n, false, 0, n);
        else std::fill(target, target + n, 0.0f);
      }
    });
    for (int part = 1; part < threads; ++part) {
      const float* source = partial.data() + (part - 1) * n;
      for (int64_t j = 0; j < n; ++j) y[j] += source[j];
    }
    return;
  }
  const int64_t units = (n + kColumnUnit - 1) / kColumnUnit;
  ParallelFor(units, 1, [&](int64_t begin, int64_t end) {
    range(x, w, bias, y, rows, k, n, accumulate, begin * kColumnUnit, std::min(n, end * kColumnUnit));
  });
}

void SmallRowsTransposed(const float* x, const float* w, float* y, int64_t rows, int64_t k, int64_t n) {
  if (rows <= 0 || n <= 0) return;
  const TransposedRangeFunction range = TransposedRange();
  if (!Split(rows, k, n) || n < 8) {
    range(x, w, y, rows, k, n, 0, n);
    return;
  }
  // ranges of whole 4-column groups, so each thread keeps the fast path
  const int64_t groups = (n + 3) / 4;
  ParallelFor(groups, 1, [&](int64_t begin, int64_t end) { range(x, w, y, rows, k, n, begin * 4, std::min(n, end * 4)); });
}

}  // namespace rlhfjs
