// Fused decode-step kernels (one query token per row): a whole transformer block in one call, so a decode step
// costs a handful of native calls instead of ~50 tfjs kernels per layer. No tfjs or N-API types here.
#pragma once
#include <cstdint>

namespace rlhfjs {

// The weights of one GPT-2 block, every linear weight stored [in, out] (x @ W), biases [out].
struct Gpt2BlockWeights {
  const float* ln1Weight;  // [D]
  const float* ln1Bias;    // [D]
  const float* qkvWeight;  // [D, 3D]
  const float* qkvBias;    // [3D]
  const float* projWeight; // [D, D]
  const float* projBias;   // [D]
  const float* ln2Weight;  // [D]
  const float* ln2Bias;    // [D]
  const float* fcWeight;   // [D, F]
  const float* fcBias;     // [F]
  const float* outWeight;  // [F, D]
  const float* outBias;    // [D]
};

// out[B, D] = gpt2Block(x[B, D]) for one new token per row at cache position `position`. Keys/values of the token
// are written in place into keyCache/valueCache [B, H, C, d]; attention reads positions [0, C) of each row with the
// additive bias[B, C] (core's attention bias; entries <= -1e8 skip their key). `out` may not alias `x`.
void Gpt2DecodeBlock(const float* x, const Gpt2BlockWeights& w, float* keyCache, float* valueCache, const float* bias,
                     float* out, int64_t batch, int64_t hidden, int64_t inner, int64_t heads, int64_t capacity,
                     int64_t position, float epsilon);

// A whole GPT-2 decode step for one token per row: hidden = wte[ids] + wpe[positions], every block (layers of
// `blocks`, caches written in place at `position`), the final layer norm into hiddenOut[B, D], and the tied LM head
// logitsOut[B, V] = hiddenOut @ wteᵀ. ids and positions must already be checked against vocab and maxPositions.
void Gpt2DecodeStep(const int32_t* ids, const int32_t* positions, const float* wte, const float* wpe,
                    const Gpt2BlockWeights* blocks, float* const* keyCaches, float* const* valueCaches, int64_t layers,
                    const float* bias, const float* finalWeight, const float* finalBias, float* hiddenOut,
                    float* logitsOut, int64_t batch, int64_t hidden, int64_t inner, int64_t heads, int64_t capacity,
                    int64_t position, int64_t vocab, float epsilon);

}  // namespace rlhfjs
