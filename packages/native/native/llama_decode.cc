// Fused Llama-family decode step (llama_decode.h). The products stream each weight once through the small-rows
// kernels (small_rows.h) up to kSmallRowsLimit rows, OpenBLAS sgemm above; everything else is a plain loop.
#include "llama_decode.h"

#include <cblas.h>

#include <cmath>
#include <vector>

#include "decode_common.h"
#include "kernels.h"
#include "small_rows.h"

namespace rlhfjs {
namespace {


// y[rows, width] = x · rsqrt(mean(x²) + ε) · weight (HF's LlamaRMSNorm in float32; mean in double).
void RmsNormRows(const float* x, const float* weight, float* y, int64_t rows, int64_t width, float epsilon) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * width;
    double squares = 0;
    for (int64_t i = 0; i < width; ++i) squares += static_cast<double>(row[i]) * row[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(width) + epsilon));
    float* target = y + r * width;
    for (int64_t i = 0; i < width; ++i) target[i] = row[i] * scale * weight[i];
  }
}

// In place on one head's d features: x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁].
void Rotate(float* x, const float* cos, const float* sin, int64_t dim) {
  const int64_t half = dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float first = x[i], second = x[i + half];
    x[i] = first * cos[i] - second * sin[i];
    x[i + half] = second * cos[i + half] + first * sin[i + half];
  }
}

// One layer on hidden [B, D] in place (the residual stream).
void LlamaLayer(float* hidden, const LlamaLayerWeights& w, float* keyCache, float* valueCache, const float* bias,
                const float* cos, const float* sin, const LlamaDecodeShape& shape) {
  const int64_t batch = shape.batch, width = shape.hidden, dim = shape.headDim, heads = shape.heads;
  const int64_t kvHeads = shape.keyValueHeads, capacity = shape.capacity, position = shape.position;
  const int64_t queryWidth = heads * dim, kvWidth = kvHeads * dim, group = heads / kvHeads;
  std::vector<float> normed(batch * width), q(batch * queryWidth), k(batch * kvWidth), v(batch * kvWidth);
  std::vector<float> attended(batch * queryWidth);
  RmsNormRows(hidden, w.inputNorm, normed.data(), batch, width, shape.epsilon);
  DecodeAffine(normed.data(), w.qWeight, w.qBias, q.data(), batch, width, queryWidth, false);  // [B, H·d]
  DecodeAffine(normed.data(), w.kWeight, w.kBias, k.data(), batch, width, kvWidth, false);     // [B, Hkv·d]
  DecodeAffine(normed.data(), w.vWeight, w.vBias, v.data(), batch, width, kvWidth, false);     // [B, Hkv·d]
  if (w.qNorm != nullptr) RmsNormRows(q.data(), w.qNorm, q.data(), batch * heads, dim, shape.epsilon);
  if (w.kNorm != nullptr) RmsNormRows(k.data(), w.kNorm, k.data(), batch * kvHeads, dim, shape.epsilon);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
  const int64_t length = position + 1;  // keys past `position` are unfilled and masked (causal)
  std::vector<float> weights(length);
  for (int64_t b = 0; b < batch; ++b) {
    const float* rowCos = cos + b * dim;
    const float* rowSin = sin + b * dim;
    for (int64_t h = 0; h < heads; ++h) Rotate(q.data() + b * queryWidth + h * dim, rowCos, rowSin, dim);
    for (int64_t h = 0; h < kvHeads; ++h) {
      float* key = k.data() + b * kvWidth + h * dim;
      Rotate(key, rowCos, rowSin, dim);
      float* keyTarget = keyCache + ((b * kvHeads + h) * capacity + position) * dim;
      float* valueTarget = valueCache + ((b * kvHeads + h) * capacity + position) * dim;
      for (int64_t i = 0; i < dim; ++i) {
        keyTarget[i] = key[i];
        valueTarget[i] = v[b * kvWidth + h * dim + i];
      }
    }
    const float* biasRow = bias + b * capacity;
    const bool anyAllowed = AnyKeyAllowed(biasRow, length);
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t kvHead = h / group;
      const float* keys = keyCache + (b * kvHeads + kvHead) * capacity * dim;  // [C, d]
      const float* values = valueCache + (b * kvHeads + kvHead) * capacity * dim;
      AttendOverCache(q.data() + b * queryWidth + h * dim, keys, values, biasRow, anyAllowed, length, dim, scale,
                      weights.data(), attended.data() + b * queryWidth + h * dim);
    }
  }
  DecodeAffine(attended.data(), w.oWeight, w.oBias, hidden, batch, queryWidth, width, true);  // hidden += attention
  RmsNormRows(hidden, w.postNorm, normed.data(), batch, width, shape.epsilon);
  std::vector<float> gate(batch * shape.inner), up(batch * shape.inner);
  DecodeAffine(normed.data(), w.gateWeight, w.gateBias, gate.data(), batch, width, shape.inner, false);  // [B, I]
  DecodeAffine(normed.data(), w.upWeight, w.upBias, up.data(), batch, width, shape.inner, false);        // [B, I]
  std::vector<float> activated(batch * shape.inner);
  SiluMul(gate.data(), up.data(), activated.data(), batch * shape.inner);  // SiLU(gate)·up, core's silu_mul kernel
  DecodeAffine(activated.data(), w.downWeight, w.downBias, hidden, batch, shape.inner, width, true);  // hidden += mlp
}

}  // namespace

void LlamaDecodeStep(const int32_t* ids, const float* embed, const LlamaLayerWeights* layers, float* const* keyCaches,
                     float* const* valueCaches, int64_t layerCount, const float* bias, const float* cos,
                     const float* sin, const float* finalNorm, const float* lmHead, float* hiddenOut, float* logitsOut,
                     const LlamaDecodeShape& shape) {
  const int64_t batch = shape.batch, width = shape.hidden, vocab = shape.vocab;
  std::vector<float> hidden(batch * width);
  for (int64_t b = 0; b < batch; ++b) {
    const float* token = embed + static_cast<int64_t>(ids[b]) * width;
    for (int64_t i = 0; i < width; ++i) hidden[b * width + i] = token[i];
  }
  for (int64_t layer = 0; layer < layerCount; ++layer) {
    LlamaLayer(hidden.data(), layers[layer], keyCaches[layer], valueCaches[layer], bias, cos, sin, shape);
  }
  RmsNormRows(hidden.data(), finalNorm, hiddenOut, batch, width, shape.epsilon);
  if (lmHead != nullptr) {
    DecodeAffine(hiddenOut, lmHead, nullptr, logitsOut, batch, width, vocab, false);  // [B, D] @ [D, V]
  } else if (batch <= kSmallRowsLimit) {
    SmallRowsTransposed(hiddenOut, embed, logitsOut, batch, width, vocab);  // [B, D] @ [V, D]ᵀ, tied
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(batch), static_cast<int>(vocab),
                static_cast<int>(width), 1.0f, hiddenOut, static_cast<int>(width), embed, static_cast<int>(width),
                0.0f, logitsOut, static_cast<int>(vocab));
  }
}

}  // namespace rlhfjs
