// Fused GPT-2 decode block: layer norm → c_attn → in-place KV-cache write → attention over the cache → c_proj →
// residual → layer norm → c_fc → gelu_new → c_proj → residual, for one token per row. The products stream each
// weight once through the small-rows kernels (small_rows.h) up to kSmallRowsLimit rows, OpenBLAS sgemm above;
// everything else is a plain loop.
#include "decode.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "decode_common.h"
#include "kernels.h"
#include "small_rows.h"

namespace rlhfjs {
namespace {


// y[rows, D] = layerNorm(x[rows, D]) * weight + bias, statistics in double (biased variance, as torch).
void LayerNormRows(const float* x, const float* weight, const float* bias, float* y, int64_t rows, int64_t width,
                   float epsilon) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * width;
    double mean = 0;
    for (int64_t i = 0; i < width; ++i) mean += row[i];
    mean /= static_cast<double>(width);
    double variance = 0;
    for (int64_t i = 0; i < width; ++i) {
      const double centered = row[i] - mean;
      variance += centered * centered;
    }
    variance /= static_cast<double>(width);
    const float scale = static_cast<float>(1.0 / std::sqrt(variance + epsilon));
    float* target = y + r * width;
    for (int64_t i = 0; i < width; ++i) target[i] = (row[i] - static_cast<float>(mean)) * scale * weight[i] + bias[i];
  }
}

// Runs a decode step's BLAS calls on the calling thread when each product is small: waking OpenBLAS's workers for a
// matrix-vector-sized product costs more than it saves, and on a loaded machine a descheduled worker stalls every
// call. Larger products (real model sizes, bigger batches) keep the configured thread count. Restored on exit.
class SmallWorkThreads {
 public:
  explicit SmallWorkThreads(int64_t largestProduct) : previous_(openblas_get_num_threads()) {
    if (previous_ > 1 && largestProduct < kSingleThreadBelow) openblas_set_num_threads(1);
    else previous_ = 0;
  }
  ~SmallWorkThreads() {
    if (previous_ > 1) openblas_set_num_threads(previous_);
  }
  SmallWorkThreads(const SmallWorkThreads&) = delete;
  SmallWorkThreads& operator=(const SmallWorkThreads&) = delete;

 private:
  // multiply-adds of the largest product of the step (~40 µs on one core): batch-1 steps of the reference config
  static constexpr int64_t kSingleThreadBelow = int64_t{1} << 21;
  int previous_;
};

}  // namespace

void Gpt2DecodeBlock(const float* x, const Gpt2BlockWeights& w, float* keyCache, float* valueCache, const float* bias,
                     float* out, int64_t batch, int64_t hidden, int64_t inner, int64_t heads, int64_t capacity,
                     int64_t position, float epsilon) {
  SmallWorkThreads threads(batch * hidden * std::max(3 * hidden, inner));
  const int64_t dim = hidden / heads;
  std::vector<float> normed(batch * hidden);
  std::vector<float> qkv(batch * 3 * hidden);
  std::vector<float> attended(batch * hidden);
  std::vector<float> up(batch * inner);
  LayerNormRows(x, w.ln1Weight, w.ln1Bias, normed.data(), batch, hidden, epsilon);
  DecodeAffine(normed.data(), w.qkvWeight, w.qkvBias, qkv.data(), batch, hidden, 3 * hidden, false);  // [B, 3D]
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
  // keys past `position` are unfilled and masked by the bias (causal): attend over [0, position] only
  const int64_t length = position + 1;
  std::vector<float> weights(length);
  for (int64_t b = 0; b < batch; ++b) {
    const float* q = qkv.data() + b * 3 * hidden;  // [H, d]
    const float* k = q + hidden;
    const float* v = k + hidden;
    const float* biasRow = bias + b * capacity;
    const bool anyAllowed = AnyKeyAllowed(biasRow, length);
    for (int64_t h = 0; h < heads; ++h) {
      float* keys = keyCache + (b * heads + h) * capacity * dim;  // [C, d]
      float* values = valueCache + (b * heads + h) * capacity * dim;
      for (int64_t i = 0; i < dim; ++i) {
        keys[position * dim + i] = k[h * dim + i];
        values[position * dim + i] = v[h * dim + i];
      }
      AttendOverCache(q + h * dim, keys, values, biasRow, anyAllowed, length, dim, scale, weights.data(),
                      attended.data() + b * hidden + h * dim);
    }
  }
  for (int64_t i = 0; i < batch * hidden; ++i) out[i] = x[i];
  DecodeAffine(attended.data(), w.projWeight, w.projBias, out, batch, hidden, hidden, true);  // out = x + attn
  LayerNormRows(out, w.ln2Weight, w.ln2Bias, normed.data(), batch, hidden, epsilon);
  DecodeAffine(normed.data(), w.fcWeight, w.fcBias, up.data(), batch, hidden, inner, false);  // [B, F]
  std::vector<float> activated(batch * inner);
  GeluNew(up.data(), activated.data(), batch * inner);  // the vectorised kernel core's gelu_new op runs
  DecodeAffine(activated.data(), w.outWeight, w.outBias, out, batch, inner, hidden, true);  // out += mlp
}

void Gpt2DecodeStep(const int32_t* ids, const int32_t* positions, const float* wte, const float* wpe,
                    const Gpt2BlockWeights* blocks, float* const* keyCaches, float* const* valueCaches, int64_t layers,
                    const float* bias, const float* finalWeight, const float* finalBias, float* hiddenOut,
                    float* logitsOut, int64_t batch, int64_t hidden, int64_t inner, int64_t heads, int64_t capacity,
                    int64_t position, int64_t vocab, float epsilon) {
  SmallWorkThreads threads(batch * hidden * std::max({3 * hidden, inner, vocab}));
  std::vector<float> current(batch * hidden);
  std::vector<float> next(batch * hidden);
  for (int64_t b = 0; b < batch; ++b) {
    const float* token = wte + static_cast<int64_t>(ids[b]) * hidden;
    const float* place = wpe + static_cast<int64_t>(positions[b]) * hidden;
    for (int64_t i = 0; i < hidden; ++i) current[b * hidden + i] = token[i] + place[i];
  }
  for (int64_t layer = 0; layer < layers; ++layer) {
    Gpt2DecodeBlock(current.data(), blocks[layer], keyCaches[layer], valueCaches[layer], bias, next.data(), batch,
                    hidden, inner, heads, capacity, position, epsilon);
    current.swap(next);
  }
  LayerNormRows(current.data(), finalWeight, finalBias, hiddenOut, batch, hidden, epsilon);
  // logits[B, V] = hidden[B, D] @ wte[V, D]ᵀ: the tied head reads the embedding in place
  if (batch <= kSmallRowsLimit) {
    SmallRowsTransposed(hiddenOut, wte, logitsOut, batch, hidden, vocab);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(batch), static_cast<int>(vocab),
                static_cast<int>(hidden), 1.0f, hiddenOut, static_cast<int>(hidden), wte, static_cast<int>(hidden), 0.0f,
                logitsOut, static_cast<int>(vocab));
  }
}

}  // namespace rlhfjs
