// Fused decode step of the Llama family (Llama, Mistral, Qwen2, Qwen3; core's llamaBlock): a whole step for one new
// token per row in one call. No tfjs or N-API types here.
#pragma once
#include <cstdint>

namespace rlhfjs {

// One Llama-family layer, every linear weight stored [in, out] (x @ W). Optional entries are null when absent.
struct LlamaLayerWeights {
  const float* inputNorm;   // [D]
  const float* qWeight;     // [D, H·d]
  const float* qBias;       // [H·d] or null (Qwen2, attention_bias)
  const float* kWeight;     // [D, Hkv·d]
  const float* kBias;       // [Hkv·d] or null
  const float* vWeight;     // [D, Hkv·d]
  const float* vBias;       // [Hkv·d] or null
  const float* oWeight;     // [H·d, D]
  const float* oBias;       // [D] or null
  const float* qNorm;       // [d] or null (Qwen3: RMSNorm of each query head before rotary)
  const float* kNorm;       // [d] or null
  const float* postNorm;    // [D]
  const float* gateWeight;  // [D, I]
  const float* gateBias;    // [I] or null (Llama mlp_bias)
  const float* upWeight;    // [D, I]
  const float* upBias;      // [I] or null
  const float* downWeight;  // [I, D]
  const float* downBias;    // [D] or null
};

struct LlamaDecodeShape {
  int64_t batch, hidden, heads, keyValueHeads, headDim, inner, capacity, position, vocab;
  float epsilon;
};

// A whole decode step: hidden = embed[ids]; per layer RMSNorm → q/k/v (+biases) → per-head q/k RMSNorm (Qwen3) →
// rotary with the step's tables cos/sin [B, d] (computed by the caller, so every rope type stays exact) → the
// key/value written in place into keyCaches/valueCaches [B, Hkv, C, d] at `position` → attention over [0, position]
// with the additive bias [B, C] (entries <= -1e8 skip their key), query head h reading key/value head
// h / (H / Hkv) → o_proj + residual → RMSNorm → SiLU(gate)·up → down_proj + residual; then the final RMSNorm into
// hiddenOut [B, D] and logitsOut [B, V] = hiddenOut @ lmHead[D, V], or @ embed[V, D]ᵀ when lmHead is null (tied).
// ids must already be checked against vocab.
void LlamaDecodeStep(const int32_t* ids, const float* embed, const LlamaLayerWeights* layers, float* const* keyCaches,
                     float* const* valueCaches, int64_t layerCount, const float* bias, const float* cos,
                     const float* sin, const float* finalNorm, const float* lmHead, float* hiddenOut, float* logitsOut,
                     const LlamaDecodeShape& shape);

}  // namespace rlhfjs
