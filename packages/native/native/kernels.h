// Plain C++ kernels over raw float buffers; addon.cc binds them to N-API. No tfjs or N-API types here.
#pragma once
#include <cstdint>
#include <functional>

namespace rlhfjs {

// C[batch, m, n] = op(A)[m, k] x op(B)[k, n] for each batch, with per-batch element offsets into A and B.
void GemmBatched(const float* a, const float* b, float* c, int64_t batch, int m, int n, int k, bool transposeA,
                 bool transposeB, const int64_t* aOffsets, const int64_t* bOffsets);

// Activation codes shared with the TypeScript side (kernels/activation_codes.ts).
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 3, kSigmoid = 4, kElu = 5 };
// In place on c[rows, n]: add bias[n] (when not null) to every row, then apply the activation.
void BiasActivation(float* c, int64_t rows, int n, const float* bias, int activation, float alpha);

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kMaximum = 4, kMinimum = 5, kSquaredDifference = 6 };
// out[outShape] = a op b with broadcasting expressed as element strides (0 on broadcast dims), rank <= 8.
void Binary(int op, const float* a, const int64_t* aStrides, const float* b, const int64_t* bStrides, float* out,
            const int64_t* outShape, int rank);

enum UnaryOp {
  kExp = 0, kLog = 1, kNeg = 2, kSqrt = 3, kRsqrt = 4, kTanh = 5, kErf = 6, kSquare = 7, kReluU = 8,
  kSigmoidU = 9, kAbs = 10, kReciprocal = 11, kLog1p = 12, kScale = 13
};
void Unary(int op, const float* x, float* out, int64_t size, float alpha);

enum ReduceOp { kSum = 0, kMax = 1, kMin = 2, kMean = 3 };
// x viewed as [outer, reduce, inner]; out[outer, inner].
void Reduce(int op, const float* x, float* out, int64_t outer, int64_t reduce, int64_t inner);

// Row softmax of x[rows, cols].
void Softmax(const float* x, float* out, int64_t rows, int64_t cols);

// out = transpose(x, perm) for x of shape xShape, rank <= 8.
void Transpose(const float* x, float* out, const int64_t* xShape, const int32_t* perm, int rank);

// out[outer, indexCount, inner] = x[outer, axisSize, inner] gathered along the middle axis. Returns the first
// index that is out of [0, axisSize) (or -1 when all are valid); nothing is written past it.
int64_t Gather(const float* x, const int32_t* indices, float* out, int64_t outer, int64_t indexCount,
               int64_t inner, int64_t axisSize);

// out[numSegments, inner] = sum of x[rows, inner] rows by segment id; ids outside [0, numSegments) are dropped.
void UnsortedSegmentSum(const float* x, const int32_t* segmentIds, float* out, int64_t rows, int64_t inner,
                        int64_t numSegments);

// For r in [0, rows): dst[dstOffset + r*dstStride : + rowLength] = src[srcOffset + r*srcStride : + rowLength].
void Copy2d(const float* src, int64_t srcOffset, int64_t srcStride, float* dst, int64_t dstOffset, int64_t dstStride,
            int64_t rows, int64_t rowLength);

// out[size] = x[begin : begin + size] for x of shape xShape, rank <= 8.
void Slice(const float* x, float* out, const int64_t* xShape, const int64_t* begin, const int64_t* size, int rank);

// out = condition ? a : b, all of one size.
void Select(const uint8_t* condition, const float* a, const float* b, float* out, int64_t size);

// Threads the elementwise and row kernels may use: OpenBLAS's own count (OPENBLAS_NUM_THREADS or the cores).
int WorkerThreads();
// GemmBatched's entries split over the worker threads when they are small and many; false when not taken.
bool GemmBatchParallel(const float* a, const float* b, float* c, int64_t batch, int m, int n, int k,
                       bool transposeA, bool transposeB, const int64_t* aOffsets, const int64_t* bOffsets);
// Splits [0, count) into at most WorkerThreads() ranges of at least minimumPerThread and runs body on each.
void ParallelFor(int64_t count, int64_t minimumPerThread, const std::function<void(int64_t, int64_t)>& body);

// max_j row[j] (vectorised; NaNs skipped as by std::max(maximum, row[j]); −∞ for an empty row).
float RowMaximum(const float* row, int64_t count);

// Fused target log-probs of logits [rows, vocab]: out[r] = x[r, t]/τ − logSumExp[r] with logSumExp[r] =
// log Σ_j exp(x[r, j]/τ); out[r] = 0 where targets[r] < 0. Targets must be < vocab (the binding checks).
void TargetLogProbs(const float* logits, const int32_t* targets, float* out, float* logSumExp, int64_t rows,
                    int64_t vocab, float temperature);
// Its gradient: dLogits[r, j] = dy[r]/τ · (1[j = t_r] − exp(x[r, j]/τ − logSumExp[r])); 0 on rows with t_r < 0.
void TargetLogProbsGrad(const float* logits, const int32_t* targets, const float* logSumExp, const float* dy,
                        float* dLogits, int64_t rows, int64_t vocab, float temperature);

// Fused activations of core's custom ops (all arrays of `size` elements).
void GeluNew(const float* x, float* out, int64_t size);
void GeluNewGrad(const float* x, const float* dy, float* dx, int64_t size);
void SiluMul(const float* gate, const float* up, float* out, int64_t size);
void SiluMulGrad(const float* gate, const float* up, const float* dy, float* dGate, float* dUp, int64_t size);

// One AdamW update (decoupled weight decay, torch.optim.AdamW) of a parameter and its moments, as float32 ops in
// the order of core's portable AdamW. Each output may be its own input (paramOut = param, mOut = m, vOut = v: the
// update in place); element i is read before it is written.
struct AdamWCoefficients {
  bool decays;
  float decayFactor;  // 1 - lr * weightDecay
  float beta1, oneMinusBeta1, beta2, oneMinusBeta2;
  float biasCorrection2Sqrt;
  float epsilon;
  float stepSize;  // lr / (1 - beta1^step)
};
void AdamWUpdate(const float* param, const float* grad, const float* m, const float* v, float* paramOut, float* mOut,
                 float* vOut, int64_t size, const AdamWCoefficients& coefficients);

// LayerNorm (bias != nullptr or not: rms = false) or RMSNorm (rms = true, mean 0) of x [rows, width] over its
// rows: y = (x − μ)·rstd·weight (+ bias); mean[rows] and rstd[rows] are kept for the gradient.
void Norm(const float* x, const float* weight, const float* bias, float* y, float* mean, float* rstd, int64_t rows,
          int64_t width, float epsilon, bool rms);
// Its gradient: dx [rows, width], dWeight [width] = Σ dy·x̂, dBias [width] = Σ dy.
void NormGrad(const float* x, const float* weight, const float* mean, const float* rstd, const float* dy, float* dx,
              float* dWeight, float* dBias, int64_t rows, int64_t width, bool rms);

// Rotary embedding of x [batch, heads, length, width] with tables cos/sin [batch, 1, length, width]: y = x·cos +
// rotate_half(x)·sin, or its transpose (inverse = true), which maps dy to dx.
void Rope(const float* x, const float* cos, const float* sin, float* out, int64_t batch, int64_t heads, int64_t length,
          int64_t width, bool inverse);

}  // namespace rlhfjs
