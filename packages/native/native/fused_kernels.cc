// Fused kernels of core's custom ops (DESIGN.md, "Fast paths"), multi-threaded over rows.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fast_math.h"
#include "kernels.h"
#include "thread_pool.h"

namespace rlhfjs {

int WorkerThreads() {
  // OpenBLAS's thread count follows OPENBLAS_NUM_THREADS (or the cores it may use): the same budget here.
  return std::max(1, openblas_get_num_threads());
}

void ParallelFor(int64_t count, int64_t minimumPerThread, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  const int64_t byWork = std::max<int64_t>(1, count / std::max<int64_t>(1, minimumPerThread));
  const int threads = static_cast<int>(std::min<int64_t>(WorkerThreads(), byWork));
  if (threads <= 1) {
    body(0, count);
    return;
  }
  // Twice as many ranges as threads (when the work allows): the pool's threads claim them in turn, so a thread
  // that starts late on a loaded machine leaves its second range to the others instead of holding up the call.
  const int parts = static_cast<int>(std::min<int64_t>(2 * static_cast<int64_t>(threads), byWork));
  const int64_t step = (count + parts - 1) / parts;
  RunParts(parts, threads, [&](int part) {
    const int64_t begin = std::min(count, part * step), end = std::min(count, (part + 1) * step);
    if (begin < end) body(begin, end);
  });
}

// Rows per thread below which spawning a thread costs more than it saves (each row is a full vocabulary pass).
static int64_t RowsPerThread(int64_t vocab) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(vocab, 1)); }

RLHFJS_VECTOR_CLONES
float RowMaximum(const float* row, int64_t count) {
  // GCC vector extension: 16 floats, lowered to the clone's widest registers (GCC does not vectorise the scalar
  // form of this select reduction).
  typedef float Lanes __attribute__((vector_size(64)));
  Lanes lanes;
  for (int l = 0; l < 16; ++l) lanes[l] = -INFINITY;
  int64_t j = 0;
  for (; j + 16 <= count; j += 16) {
    Lanes values;
    std::memcpy(&values, row + j, sizeof values);
    lanes = lanes < values ? values : lanes;
  }
  float maximum = -INFINITY;
  for (int l = 0; l < 16; ++l) maximum = std::max(maximum, lanes[l]);
  for (; j < count; ++j) maximum = std::max(maximum, row[j]);
  return maximum;
}

// Σ_j e^(row[j]·inverse − shift), in double over 8-lane float partial sums (vectorised; no [vocab] buffer).
RLHFJS_VECTOR_CLONES
double SumExpScaled(const float* row, int64_t vocab, float inverse, float shift) {
  double sum = 0.0;
  int64_t j = 0;
  for (; j + 256 <= vocab; j += 256) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < 256; i += 8) {
      for (int l = 0; l < 8; ++l) lanes[l] += VectorExp(row[j + i + l] * inverse - shift);
    }
    float block = 0.0f;
    for (int l = 0; l < 8; ++l) block += lanes[l];
    sum += block;
  }
  for (; j < vocab; ++j) sum += VectorExp(row[j] * inverse - shift);
  return sum;
}

// grad[j] = −coefficient · e^(row[j]·inverse − lse) for j < vocab.
RLHFJS_VECTOR_CLONES
void SoftmaxGradRow(const float* __restrict row, float* __restrict grad, int64_t vocab, float inverse, float lse, float coefficient) {
  for (int64_t j = 0; j < vocab; ++j) grad[j] = -coefficient * VectorExp(row[j] * inverse - lse);
}

void TargetLogProbs(const float* logits, const int32_t* targets, float* out, float* logSumExp, int64_t rows,
                    int64_t vocab, float temperature) {
  const float inverse = 1.0f / temperature;
  ParallelFor(rows, RowsPerThread(vocab), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = logits + r * vocab;
      const float maximum = RowMaximum(row, vocab);
      const float shift = maximum * inverse;
      const double sum = SumExpScaled(row, vocab, inverse, shift);
      const float lse = vocab == 0 ? -INFINITY : shift + static_cast<float>(std::log(sum));
      logSumExp[r] = lse;
      const int32_t target = targets[r];
      out[r] = target < 0 ? 0.0f : row[target] * inverse - lse;
    }
  });
}

void TargetLogProbsGrad(const float* logits, const int32_t* targets, const float* logSumExp, const float* dy,
                        float* dLogits, int64_t rows, int64_t vocab, float temperature) {
  const float inverse = 1.0f / temperature;
  ParallelFor(rows, RowsPerThread(vocab), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = logits + r * vocab;
      float* grad = dLogits + r * vocab;
      const int32_t target = targets[r];
      if (target < 0) {
        std::memset(grad, 0, sizeof(float) * vocab);
        continue;
      }
      // d/dx_j [x_t/τ − lse(x/τ)] = (1[j = t] − softmax_j) / τ
      const float coefficient = dy[r] * inverse;
      SoftmaxGradRow(row, grad, vocab, inverse, logSumExp[r], coefficient);
      grad[target] += coefficient;
    }
  });
}

void AdamWUpdate(const float* param, const float* grad, const float* m, const float* v, float* paramOut, float* mOut,
                 float* vOut, int64_t size, const AdamWCoefficients& c) {
  ParallelFor(size, 1 << 15, [&](int64_t begin, int64_t end) {
    // The portable tfjs op sequence, one float32 rounding per op, so both paths agree to the last bit or two.
    for (int64_t i = begin; i < end; ++i) {
      const float g = grad[i];
      const float decayed = c.decays ? param[i] * c.decayFactor : param[i];
      const float mNew = m[i] * c.beta1 + g * c.oneMinusBeta1;
      const float vNew = v[i] * c.beta2 + (g * g) * c.oneMinusBeta2;
      const float denominator = std::sqrt(vNew) / c.biasCorrection2Sqrt + c.epsilon;
      paramOut[i] = decayed - (mNew / denominator) * c.stepSize;
      mOut[i] = mNew;
      vOut[i] = vNew;
    }
  });
}

void Norm(const float* x, const float* weight, const float* bias, float* y, float* mean, float* rstd, int64_t rows,
          int64_t width, float epsilon, bool rms) {
  ParallelFor(rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(width, 1)), [=](int64_t begin, int64_t end) {
    // The portable composition's float32 steps: mean (double sum), centred, mean of squares, + eps, 1/sqrt.
    for (int64_t r = begin; r < end; ++r) {
      const float* row = x + r * width;
      float* out = y + r * width;
      float mu = 0.0f;
      if (!rms) {
        double sum = 0.0;
        for (int64_t j = 0; j < width; ++j) sum += row[j];
        mu = static_cast<float>(sum / static_cast<double>(width));
      }
      double squares = 0.0;
      for (int64_t j = 0; j < width; ++j) {
        const float centred = row[j] - mu;
        squares += centred * centred;
      }
      const float variance = static_cast<float>(squares / static_cast<double>(width));
      const float inverse = 1.0f / std::sqrt(variance + epsilon);
      mean[r] = mu;
      rstd[r] = inverse;
      for (int64_t j = 0; j < width; ++j) {
        const float normalised = (row[j] - mu) * inverse * weight[j];
        out[j] = bias == nullptr ? normalised : normalised + bias[j];
      }
    }
  });
}

void NormGrad(const float* x, const float* weight, const float* mean, const float* rstd, const float* dy, float* dx,
              float* dWeight, float* dBias, int64_t rows, int64_t width, bool rms) {
  const int threads = std::max(1, std::min<int>(WorkerThreads(), static_cast<int>(rows * width / 32768)));
  // Per-thread partial sums of dWeight and dBias (double), added up at the end.
  std::vector<std::vector<double>> partialWeight(threads, std::vector<double>(width, 0.0));
  std::vector<std::vector<double>> partialBias(threads, std::vector<double>(width, 0.0));
  const int64_t step = (rows + threads - 1) / threads;
  auto work = [&](int t) {
    const int64_t begin = std::min(rows, t * step), end = std::min(rows, (t + 1) * step);
    std::vector<double>& weightSum = partialWeight[t];
    std::vector<double>& biasSum = partialBias[t];
    for (int64_t r = begin; r < end; ++r) {
      const float* row = x + r * width;
      const float* grad = dy + r * width;
      float* out = dx + r * width;
      const float mu = mean[r], inverse = rstd[r];
      // dx = r · (dy·w − mean(dy·w) − x̂ · mean(dy·w · x̂)), x̂ = (x − μ)·r; RMSNorm drops the mean(dy·w) term.
      double sumGradient = 0.0, sumProjection = 0.0;
      for (int64_t j = 0; j < width; ++j) {
        const float normalised = (row[j] - mu) * inverse;
        const float scaled = grad[j] * weight[j];
        sumGradient += scaled;
        sumProjection += scaled * normalised;
        weightSum[j] += grad[j] * normalised;
        biasSum[j] += grad[j];
      }
      const float meanGradient = rms ? 0.0f : static_cast<float>(sumGradient / static_cast<double>(width));
      const float meanProjection = static_cast<float>(sumProjection / static_cast<double>(width));
      for (int64_t j = 0; j < width; ++j) {
        const float normalised = (row[j] - mu) * inverse;
        out[j] = inverse * (grad[j] * weight[j] - meanGradient - normalised * meanProjection);
      }
    }
  };
  RunParts(threads, threads, work);
  for (int64_t j = 0; j < width; ++j) {
    double weightTotal = 0.0, biasTotal = 0.0;
    for (int t = 0; t < threads; ++t) {
      weightTotal += partialWeight[t][j];
      biasTotal += partialBias[t][j];
    }
    dWeight[j] = static_cast<float>(weightTotal);
    dBias[j] = static_cast<float>(biasTotal);
  }
}

void Rope(const float* x, const float* cos, const float* sin, float* out, int64_t batch, int64_t heads, int64_t length,
          int64_t width, bool inverse) {
  const int64_t half = width / 2;
  const int64_t rows = batch * heads * length;
  ParallelFor(rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(width, 1)), [=](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / (heads * length), t = row % length;
      const float* c = cos + (b * length + t) * width;
      const float* s = sin + (b * length + t) * width;
      const float* in = x + row * width;
      float* o = out + row * width;
      for (int64_t j = 0; j < half; ++j) {
        const float first = in[j], second = in[j + half];
        if (!inverse) {  // y = x·cos + [−x₂, x₁]·sin
          o[j] = first * c[j] + (-second) * s[j];
          o[j + half] = second * c[j + half] + first * s[j + half];
        } else {  // the transpose: dx₁ = dy₁·cos₁ + dy₂·sin₂, dx₂ = dy₂·cos₂ − dy₁·sin₁
          o[j] = first * c[j] + second * s[j + half];
          o[j + half] = second * c[j + half] - first * s[j];
        }
      }
    }
  });
}

}  // namespace rlhfjs
