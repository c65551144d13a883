// Kernels for the native backend. Each reproduces the arithmetic of the matching tfjs cpu kernel (same formulas,
// float32 results; reductions accumulate in double as the cpu backend's JavaScript numbers do).
#include "kernels.h"
#include "fast_math.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace rlhfjs {

// y[n] = x[k] · B[k, n] (B row-major, row stride ldb): streams B row by row, once.
static void SmallVecMat(const float* x, const float* bm, float* y, int k, int n, int ldb) {
  std::memset(y, 0, sizeof(float) * n);
  for (int r = 0; r < k; ++r) {
    const float scale = x[r];
    const float* row = bm + static_cast<int64_t>(r) * ldb;
    for (int j = 0; j < n; ++j) y[j] += scale * row[j];
  }
}

// y[m] = M[m, k] · x[k] (M row-major, row stride ldm): one dot product per row.
static void SmallMatVec(const float* mm, const float* x, float* y, int m, int k, int ldm) {
  for (int i = 0; i < m; ++i) {
    const float* row = mm + static_cast<int64_t>(i) * ldm;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int j = 0;
    for (; j + 4 <= k; j += 4) {
      s0 += row[j] * x[j];
      s1 += row[j + 1] * x[j + 1];
      s2 += row[j + 2] * x[j + 2];
      s3 += row[j + 3] * x[j + 3];
    }
    for (; j < k; ++j) s0 += row[j] * x[j];
    y[i] = (s0 + s1) + (s2 + s3);
  }
}

// Matrix-vector products below this many matrix elements (1 MB) run on the calling thread: waking OpenBLAS's
// threads costs more than the product (up to ~1 ms each on a loaded 2-core machine).
static constexpr int64_t kSmallMatVecElements = 1 << 18;

void GemmBatched(const float* a, const float* b, float* c, int64_t batch, int m, int n, int k, bool transposeA,
                 bool transposeB, const int64_t* aOffsets, const int64_t* bOffsets) {
  const int64_t outSize = static_cast<int64_t>(m) * n;
  if (outSize == 0) return;
  if (k == 0) {
    std::memset(c, 0, sizeof(float) * outSize * batch);
    return;
  }
  const int lda = transposeA ? m : k;  // A stored [m, k] or [k, m]
  const int ldb = transposeB ? k : n;  // B stored [k, n] or [n, k]
  // One row (or one column) of output: a matrix-vector product. OpenBLAS's sgemm (0.3.21) would pack the whole
  // matrix first, so a decode step at batch 1 would copy every weight once more; sgemv reads each weight once.
  if (m == 1 || n == 1) {
    for (int64_t i = 0; i < batch; ++i) {
      const float* ai = a + aOffsets[i];
      const float* bi = b + bOffsets[i];
      float* ci = c + i * outSize;
      const bool small = static_cast<int64_t>(k) * (m == 1 ? n : m) <= kSmallMatVecElements;
      if (m == 1 && small) {
        if (transposeB) SmallMatVec(bi, ai, ci, n, k, std::max(k, 1));
        else SmallVecMat(ai, bi, ci, k, n, std::max(n, 1));
      } else if (m != 1 && small) {
        if (transposeA) SmallVecMat(bi, ai, ci, k, m, std::max(m, 1));
        else SmallMatVec(ai, bi, ci, m, k, std::max(k, 1));
      } else if (m == 1) {  // c[1, n] = a[1, k] · op(B): the vector is a (stride 1 whether stored [1, k] or [k, 1])
        if (transposeB) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, bi, std::max(k, 1), ai, 1, 0.0f, ci, 1);
        else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, bi, std::max(n, 1), ai, 1, 0.0f, ci, 1);
      } else {  // c[m, 1] = op(A) · b[k, 1]: the vector is b (stride 1 whether stored [k, 1] or [1, k])
        if (transposeA) cblas_sgemv(CblasRowMajor, CblasTrans, k, m, 1.0f, ai, std::max(m, 1), bi, 1, 0.0f, ci, 1);
        else cblas_sgemv(CblasRowMajor, CblasNoTrans, m, k, 1.0f, ai, std::max(k, 1), bi, 1, 0.0f, ci, 1);
      }
    }
    return;
  }
  if (GemmBatchParallel(a, b, c, batch, m, n, k, transposeA, transposeB, aOffsets, bOffsets)) return;
  for (int64_t i = 0; i < batch; ++i) {
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, m, n,
                k, 1.0f, a + aOffsets[i], std::max(lda, 1), b + bOffsets[i], std::max(ldb, 1), 0.0f,
                c + i * outSize, std::max(n, 1));
  }
}

static inline float ApplyActivation(float v, int activation, float alpha) {
  switch (activation) {
    case kRelu: return v < 0.0f ? 0.0f : v;
    case kRelu6: return std::min(std::max(v, 0.0f), 6.0f);
    case kLeakyRelu: return v < 0.0f ? alpha * v : v;
    case kSigmoid: return 1.0f / (1.0f + std::exp(-v));
    case kElu: return v >= 0.0f ? v : std::exp(v) - 1.0f;
    default: return v;
  }
}

void BiasActivation(float* c, int64_t rows, int n, const float* bias, int activation, float alpha) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * n;
    if (bias != nullptr) {
      for (int j = 0; j < n; ++j) row[j] += bias[j];
    }
    if (activation != kLinear) {
      for (int j = 0; j < n; ++j) row[j] = ApplyActivation(row[j], activation, alpha);
    }
  }
}

// Elements per thread below which the work is not split (a thread start costs about as much as ~30k flops).
static constexpr int64_t kElementsPerThread = 1 << 15;

template <typename F>
static inline void InnerRow(F f, const float* ap, int64_t aInner, const float* bp, int64_t bInner, float* op,
                            int64_t begin, int64_t end) {
  if (aInner == 1 && bInner == 1) {
    for (int64_t i = begin; i < end; ++i) op[i] = f(ap[i], bp[i]);
  } else if (aInner == 1 && bInner == 0) {
    const float bv = bp[0];
    for (int64_t i = begin; i < end; ++i) op[i] = f(ap[i], bv);
  } else if (aInner == 0 && bInner == 1) {
    const float av = ap[0];
    for (int64_t i = begin; i < end; ++i) op[i] = f(av, bp[i]);
  } else {
    for (int64_t i = begin; i < end; ++i) op[i] = f(ap[i * aInner], bp[i * bInner]);
  }
}

// Steps the multi-index `counter` over the outer dims [0, rank − 1) of outShape (the last of them fastest) to the
// next row, keeping the two inputs' offsets aBase/bBase (strides aStrides/bStrides, 0 where broadcast) in step.
static inline void NextOuterIndex(int64_t* counter, const int64_t* outShape, int rank, const int64_t* aStrides,
                                  int64_t& aBase, const int64_t* bStrides, int64_t& bBase) {
  for (int d = rank - 2; d >= 0; --d) {
    if (++counter[d] < outShape[d]) {
      aBase += aStrides[d];
      bBase += bStrides[d];
      return;
    }
    aBase -= aStrides[d] * (outShape[d] - 1);
    bBase -= bStrides[d] * (outShape[d] - 1);
    counter[d] = 0;
  }
}

template <typename F>
static void BinaryLoop(F f, const float* a, const int64_t* aStrides, const float* b, const int64_t* bStrides,
                       float* out, const int64_t* outShape, int rank) {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= outShape[d];
  if (total == 0) return;
  if (rank == 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  const int64_t inner = outShape[rank - 1];
  const int64_t aInner = aStrides[rank - 1];
  const int64_t bInner = bStrides[rank - 1];
  const int64_t outer = total / inner;
  if (outer < 2 * WorkerThreads()) {
    // Few long rows: split each row's elements.
    int64_t counter[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t aBase = 0, bBase = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const float* ap = a + aBase;
      const float* bp = b + bBase;
      float* op = out + o * inner;
      ParallelFor(inner, kElementsPerThread, [&](int64_t begin, int64_t end) {
        InnerRow(f, ap, aInner, bp, bInner, op, begin, end);
      });
      NextOuterIndex(counter, outShape, rank, aStrides, aBase, bStrides, bBase);
    }
    return;
  }
  ParallelFor(outer, std::max<int64_t>(1, kElementsPerThread / std::max<int64_t>(inner, 1)),
              [&](int64_t oBegin, int64_t oEnd) {
    // Multi-index of row oBegin over the outer dims (all but the last), and the input offsets it maps to.
    int64_t counter[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t aBase = 0, bBase = 0;
    int64_t rest = oBegin;
    for (int d = rank - 2; d >= 0; --d) {
      counter[d] = rest % outShape[d];
      rest /= outShape[d];
      aBase += counter[d] * aStrides[d];
      bBase += counter[d] * bStrides[d];
    }
    for (int64_t o = oBegin; o < oEnd; ++o) {
      InnerRow(f, a + aBase, aInner, b + bBase, bInner, out + o * inner, 0, inner);
      NextOuterIndex(counter, outShape, rank, aStrides, aBase, bStrides, bBase);
    }
  });
}

void Binary(int op, const float* a, const int64_t* aStrides, const float* b, const int64_t* bStrides, float* out,
            const int64_t* outShape, int rank) {
  switch (op) {
    case kAdd: return BinaryLoop([](float x, float y) { return x + y; }, a, aStrides, b, bStrides, out, outShape, rank);
    case kSub: return BinaryLoop([](float x, float y) { return x - y; }, a, aStrides, b, bStrides, out, outShape, rank);
    case kMul: return BinaryLoop([](float x, float y) { return x * y; }, a, aStrides, b, bStrides, out, outShape, rank);
    case kDiv: return BinaryLoop([](float x, float y) { return x / y; }, a, aStrides, b, bStrides, out, outShape, rank);
    case kMaximum:
      return BinaryLoop([](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : (x > y ? x : y); }, a,
                        aStrides, b, bStrides, out, outShape, rank);
    case kMinimum:
      return BinaryLoop([](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : (x < y ? x : y); }, a,
                        aStrides, b, bStrides, out, outShape, rank);
    case kSquaredDifference:
      return BinaryLoop([](float x, float y) { float d = x - y; return d * d; }, a, aStrides, b, bStrides, out,
                        outShape, rank);
  }
}

// tfjs's erf: Abramowitz & Stegun 7.1.26 with the constants of tfjs-core's erf_util.
static inline float TfjsErf(float xf) {
  const double x = xf;
  const double p = 0.3275911, a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741, a4 = -1.453152027,
               a5 = 1.061405429;
  const double sign = x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
  const double v = std::fabs(x);
  const double t = 1.0 / (1.0 + p * v);
  return static_cast<float>(sign * (1.0 - (((((a5 * t + a4) * t) + a3) * t + a2) * t + a1) * t * std::exp(-v * v)));
}

// tanh through one expf: 2-3x faster than std::tanh and within a few float32 ulps. For |x| < 0.1 the odd Taylor
// series to x^7 (next term < 3e-11 relative) avoids the cancellation in 1 - e^{-2|x|}.
static inline float FastTanh(float x) {
  const float a = std::fabs(x);
  if (a < 0.1f) {
    const float x2 = x * x;
    return x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
  }
  if (a > 9.5f) return std::copysign(1.0f, x);  // tanh rounds to 1 in float32 beyond this
  const float t = std::exp(-2.0f * a);
  return std::copysign((1.0f - t) / (1.0f + t), x);
}

template <typename F>
static void UnaryLoop(F f, const float* x, float* out, int64_t size) {
  ParallelFor(size, kElementsPerThread, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = f(x[i]);
  });
}

void Unary(int op, const float* x, float* out, int64_t size, float alpha) {
  switch (op) {
    case kExp: return UnaryLoop([](float v) { return std::exp(v); }, x, out, size);
    case kLog: return UnaryLoop([](float v) { return std::log(v); }, x, out, size);
    case kNeg: return UnaryLoop([](float v) { return -v; }, x, out, size);
    case kSqrt: return UnaryLoop([](float v) { return std::sqrt(v); }, x, out, size);
    case kRsqrt: return UnaryLoop([](float v) { return 1.0f / std::sqrt(v); }, x, out, size);
    case kTanh: return UnaryLoop([](float v) { return std::isnan(v) ? v : FastTanh(v); }, x, out, size);
    case kErf: return UnaryLoop(TfjsErf, x, out, size);
    case kSquare: return UnaryLoop([](float v) { return v * v; }, x, out, size);
    case kReluU: return UnaryLoop([](float v) { return v < 0.0f ? 0.0f : v; }, x, out, size);
    case kSigmoidU: return UnaryLoop([](float v) { return 1.0f / (1.0f + VectorExp(-v)); }, x, out, size);
    case kAbs: return UnaryLoop([](float v) { return std::fabs(v); }, x, out, size);
    case kReciprocal: return UnaryLoop([](float v) { return 1.0f / v; }, x, out, size);
    case kLog1p: return UnaryLoop([](float v) { return std::log1p(v); }, x, out, size);
    case kScale: return UnaryLoop([alpha](float v) { return v * alpha; }, x, out, size);
  }
}

// GPT-2's gelu_new and its derivative; tanh through VectorTanh (fast_math.h), each range one vectorised loop.
// Outputs never alias inputs (the kernels allocate them), hence __restrict.
static constexpr float kSqrt2OverPi = 0.7978845608028654f;
static constexpr float kGeluCubic = 0.044715f;

RLHFJS_VECTOR_CLONES
void GeluNewRange(const float* __restrict x, float* __restrict out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float v = x[i];
    out[i] = 0.5f * v * (1.0f + VectorTanh(kSqrt2OverPi * (v + kGeluCubic * v * v * v)));
  }
}

RLHFJS_VECTOR_CLONES
void GeluNewGradRange(const float* __restrict x, const float* __restrict dy, float* __restrict dx, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float v = x[i];
    const float square = v * v;
    const float t = VectorTanh(kSqrt2OverPi * v * (1.0f + kGeluCubic * square));
    const float slope = (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * square);
    dx[i] = dy[i] * 0.5f * (1.0f + t + v * slope);
  }
}

RLHFJS_VECTOR_CLONES
void SiluMulRange(const float* __restrict gate, const float* __restrict up, float* __restrict out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + VectorExp(-g)) * up[i];
  }
}

RLHFJS_VECTOR_CLONES
void SiluMulGradRange(const float* __restrict gate, const float* __restrict up, const float* __restrict dy,
                             float* __restrict dGate, float* __restrict dUp, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = gate[i];
    const float sigma = 1.0f / (1.0f + VectorExp(-g));
    dGate[i] = dy[i] * up[i] * sigma * (1.0f + g * (1.0f - sigma));
    dUp[i] = dy[i] * g * sigma;
  }
}

void GeluNew(const float* x, float* out, int64_t size) {
  ParallelFor(size, kElementsPerThread, [&](int64_t begin, int64_t end) { GeluNewRange(x, out, begin, end); });
}

void GeluNewGrad(const float* x, const float* dy, float* dx, int64_t size) {
  ParallelFor(size, kElementsPerThread,
              [&](int64_t begin, int64_t end) { GeluNewGradRange(x, dy, dx, begin, end); });
}

void SiluMul(const float* gate, const float* up, float* out, int64_t size) {
  ParallelFor(size, kElementsPerThread, [&](int64_t begin, int64_t end) { SiluMulRange(gate, up, out, begin, end); });
}

void SiluMulGrad(const float* gate, const float* up, const float* dy, float* dGate, float* dUp, int64_t size) {
  ParallelFor(size, kElementsPerThread,
              [&](int64_t begin, int64_t end) { SiluMulGradRange(gate, up, dy, dGate, dUp, begin, end); });
}

// Reduces block o of x [outer, reduce, inner] over its middle axis for the inner positions [iBegin, iEnd).
static void ReduceBlock(int op, const float* x, float* out, int64_t o, int64_t reduce, int64_t inner, int64_t iBegin,
                        int64_t iEnd, std::vector<double>& accumulator) {
  const bool isSum = op == kSum || op == kMean;
  const float* block = x + o * reduce * inner;
  float* result = out + o * inner;
  if (reduce == 0) {
    for (int64_t i = iBegin; i < iEnd; ++i) {
      result[i] = op == kMean ? NAN : (isSum ? 0.0f : (op == kMax ? -INFINITY : INFINITY));
    }
    return;
  }
  if (inner == 1) {
    if (isSum) {
      double s = 0.0;
      for (int64_t r = 0; r < reduce; ++r) s += block[r];
      result[0] = static_cast<float>(op == kMean ? s / static_cast<double>(reduce) : s);
    } else {
      float best = block[0];
      for (int64_t r = 1; r < reduce; ++r) {
        const float v = block[r];
        if (std::isnan(v) || std::isnan(best)) best = NAN;
        else if (op == kMax ? v > best : v < best) best = v;
      }
      result[0] = best;
    }
    return;
  }
  if (isSum) {
    accumulator.resize(static_cast<size_t>(inner));
    for (int64_t i = iBegin; i < iEnd; ++i) accumulator[i] = block[i];
    for (int64_t r = 1; r < reduce; ++r) {
      const float* row = block + r * inner;
      for (int64_t i = iBegin; i < iEnd; ++i) accumulator[i] += row[i];
    }
    const double scale = op == kMean ? 1.0 / static_cast<double>(reduce) : 1.0;
    for (int64_t i = iBegin; i < iEnd; ++i) result[i] = static_cast<float>(accumulator[i] * scale);
  } else {
    for (int64_t i = iBegin; i < iEnd; ++i) result[i] = block[i];
    for (int64_t r = 1; r < reduce; ++r) {
      const float* row = block + r * inner;
      for (int64_t i = iBegin; i < iEnd; ++i) {
        const float v = row[i];
        if (std::isnan(v) || std::isnan(result[i])) result[i] = NAN;
        else if (op == kMax ? v > result[i] : v < result[i]) result[i] = v;
      }
    }
  }
}

void Reduce(int op, const float* x, float* out, int64_t outer, int64_t reduce, int64_t inner) {
  const int64_t blockWork = std::max<int64_t>(1, reduce * inner);
  if (outer >= 2 * WorkerThreads()) {
    ParallelFor(outer, std::max<int64_t>(1, kElementsPerThread / blockWork), [&](int64_t begin, int64_t end) {
      std::vector<double> accumulator;
      for (int64_t o = begin; o < end; ++o) ReduceBlock(op, x, out, o, reduce, inner, 0, inner, accumulator);
    });
    return;
  }
  // Few blocks (e.g. a bias gradient: a sum over all rows): split the inner positions instead.
  for (int64_t o = 0; o < outer; ++o) {
    if (inner == 1) {
      std::vector<double> accumulator;
      ReduceBlock(op, x, out, o, reduce, inner, 0, inner, accumulator);
      continue;
    }
    ParallelFor(inner, std::max<int64_t>(16, kElementsPerThread / std::max<int64_t>(reduce, 1)),
                [&](int64_t begin, int64_t end) {
      std::vector<double> accumulator;
      ReduceBlock(op, x, out, o, reduce, inner, begin, end, accumulator);
    });
  }
}

// result[j] = e^(row[j] − shift) for j < cols, returned summed (in double over 8-lane float partial sums).
RLHFJS_VECTOR_CLONES
double ExpShiftedRow(const float* __restrict row, float* __restrict result, int64_t cols, float shift) {
  for (int64_t j = 0; j < cols; ++j) result[j] = VectorExp(row[j] - shift);
  double sum = 0.0;
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    float lanes = 0.0f;
    for (int l = 0; l < 8; ++l) lanes += result[j + l];
    sum += lanes;
  }
  for (; j < cols; ++j) sum += result[j];
  return sum;
}

void Softmax(const float* x, float* out, int64_t rows, int64_t cols) {
  ParallelFor(rows, std::max<int64_t>(1, kElementsPerThread / std::max<int64_t>(cols, 1)), [&](int64_t begin,
                                                                                               int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * cols;
    float* result = out + r * cols;
    const float maximum = RowMaximum(row, cols);
    const float total = static_cast<float>(ExpShiftedRow(row, result, cols, maximum));
    for (int64_t j = 0; j < cols; ++j) result[j] = result[j] / total;
  }
  });
}

void Transpose(const float* x, float* out, const int64_t* xShape, const int32_t* perm, int rank) {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= xShape[d];
  if (total == 0) return;
  int64_t xStrides[8];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    xStrides[d] = stride;
    stride *= xShape[d];
  }
  int64_t outShape[8];
  int64_t inStrides[8];  // stride in x of each output dim
  for (int d = 0; d < rank; ++d) {
    outShape[d] = xShape[perm[d]];
    inStrides[d] = xStrides[perm[d]];
  }
  // Copy whole rows when the last dim stays last; otherwise walk the innermost output dim with its x stride.
  const int64_t inner = outShape[rank - 1];
  const int64_t innerStride = inStrides[rank - 1];
  const int64_t outer = total / inner;
  int64_t counter[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t base = 0;
  for (int64_t o = 0; o < outer; ++o) {
    float* dst = out + o * inner;
    const float* src = x + base;
    if (innerStride == 1) {
      std::memcpy(dst, src, sizeof(float) * inner);
    } else {
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i * innerStride];
    }
    for (int d = rank - 2; d >= 0; --d) {
      if (++counter[d] < outShape[d]) {
        base += inStrides[d];
        break;
      }
      base -= inStrides[d] * (outShape[d] - 1);
      counter[d] = 0;
    }
  }
}

int64_t Gather(const float* x, const int32_t* indices, float* out, int64_t outer, int64_t indexCount, int64_t inner,
               int64_t axisSize) {
  for (int64_t i = 0; i < indexCount; ++i) {
    if (indices[i] < 0 || indices[i] >= axisSize) return i;
  }
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < indexCount; ++i) {
      std::memcpy(out + (o * indexCount + i) * inner, x + (o * axisSize + indices[i]) * inner, sizeof(float) * inner);
    }
  }
  return -1;
}

void UnsortedSegmentSum(const float* x, const int32_t* segmentIds, float* out, int64_t rows, int64_t inner,
                        int64_t numSegments) {
  std::memset(out, 0, sizeof(float) * numSegments * inner);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t id = segmentIds[r];
    if (id < 0 || id >= numSegments) continue;
    float* dst = out + id * inner;
    const float* src = x + r * inner;
    for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
  }
}

void Copy2d(const float* src, int64_t srcOffset, int64_t srcStride, float* dst, int64_t dstOffset, int64_t dstStride,
            int64_t rows, int64_t rowLength) {
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + dstOffset + r * dstStride, src + srcOffset + r * srcStride, sizeof(float) * rowLength);
  }
}

void Slice(const float* x, float* out, const int64_t* xShape, const int64_t* begin, const int64_t* size, int rank) {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= size[d];
  if (total == 0) return;
  if (rank == 0) {
    out[0] = x[0];
    return;
  }
  int64_t strides[8];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= xShape[d];
  }
  const int64_t inner = size[rank - 1];
  const int64_t outer = total / inner;
  int64_t counter[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t base = 0;
  for (int d = 0; d < rank; ++d) base += begin[d] * strides[d];
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(out + o * inner, x + base, sizeof(float) * inner);
    for (int d = rank - 2; d >= 0; --d) {
      if (++counter[d] < size[d]) {
        base += strides[d];
        break;
      }
      base -= strides[d] * (size[d] - 1);
      counter[d] = 0;
    }
  }
}

void Select(const uint8_t* condition, const float* a, const float* b, float* out, int64_t size) {
  for (int64_t i = 0; i < size; ++i) out[i] = condition[i] ? a[i] : b[i];
}

}  // namespace rlhfjs
