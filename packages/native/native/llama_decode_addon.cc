// N-API binding of the fused Llama-family decode step (llama_decode.h). Every buffer length is checked against the
// shapes, so a wrong call from TypeScript throws a RangeError instead of reading or writing out of bounds.
#include <napi.h>

#include <string>
#include <vector>

#include "llama_decode.h"

namespace {

constexpr const char* kFunction = "llamaDecodeStep";
// Per-layer weights in the order of LlamaLayerWeights (and llamaDecodeLayerWeightNames in decode_kernels.ts).
constexpr uint32_t kLayerWeights = 18;

// The Float32Array at `value` of `expected` floats, or null when optional and the value is null/undefined.
float* Floats(const Napi::Value& value, const std::string& name, size_t expected, bool optional = false) {
  if (optional && (value.IsNull() || value.IsUndefined())) return nullptr;
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(kFunction) + ": " + name + " must be a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  if (array.ElementLength() != expected) {
    throw Napi::RangeError::New(value.Env(), std::string(kFunction) + ": " + name + " has " +
                                                 std::to_string(array.ElementLength()) + " floats, expected " +
                                                 std::to_string(expected));
  }
  return array.Data();
}

int64_t Integer(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(kFunction) + ": argument " + std::to_string(index) + " must be a number");
  }
  return info[index].As<Napi::Number>().Int64Value();
}

// llamaDecodeStep(ids, embed, layerWeights[18 L], keyCaches[L], valueCaches[L], bias, cos, sin, finalNorm,
// lmHead | null, hiddenOut, logitsOut, batch, hidden, heads, keyValueHeads, headDim, inner, capacity, position,
// vocab, epsilon)
Napi::Value LlamaDecodeStepBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 22) throw Napi::TypeError::New(env, std::string(kFunction) + ": expected 22 arguments");
  rlhfjs::LlamaDecodeShape shape{};
  shape.batch = Integer(info, 12);
  shape.hidden = Integer(info, 13);
  shape.heads = Integer(info, 14);
  shape.keyValueHeads = Integer(info, 15);
  shape.headDim = Integer(info, 16);
  shape.inner = Integer(info, 17);
  shape.capacity = Integer(info, 18);
  shape.position = Integer(info, 19);
  shape.vocab = Integer(info, 20);
  if (!info[21].IsNumber()) throw Napi::TypeError::New(env, std::string(kFunction) + ": epsilon must be a number");
  shape.epsilon = info[21].As<Napi::Number>().FloatValue();
  if (shape.batch < 1 || shape.hidden < 1 || shape.heads < 1 || shape.keyValueHeads < 1 ||
      shape.heads % shape.keyValueHeads != 0 || shape.headDim < 2 || shape.headDim % 2 != 0 || shape.inner < 1 ||
      shape.position < 0 || shape.position >= shape.capacity || shape.vocab < 1) {
    throw Napi::RangeError::New(env, std::string(kFunction) + ": invalid sizes (batch " + std::to_string(shape.batch) +
                                         ", heads " + std::to_string(shape.heads) + "/" +
                                         std::to_string(shape.keyValueHeads) + ", headDim " +
                                         std::to_string(shape.headDim) + ", position " +
                                         std::to_string(shape.position) + " of " + std::to_string(shape.capacity) + ")");
  }
  if (!info[2].IsArray() || !info[3].IsArray() || !info[4].IsArray()) {
    throw Napi::TypeError::New(env, std::string(kFunction) + ": layerWeights, keyCaches and valueCaches must be arrays");
  }
  Napi::Array weights = info[2].As<Napi::Array>();
  Napi::Array keys = info[3].As<Napi::Array>();
  Napi::Array values = info[4].As<Napi::Array>();
  const uint32_t layers = keys.Length();
  if (layers < 1 || values.Length() != layers || weights.Length() != kLayerWeights * layers) {
    throw Napi::RangeError::New(env, std::string(kFunction) + ": need 18 weights and one key and value cache per layer");
  }
  const size_t rows = static_cast<size_t>(shape.batch), d = static_cast<size_t>(shape.hidden);
  const size_t dim = static_cast<size_t>(shape.headDim), inner = static_cast<size_t>(shape.inner);
  const size_t queryWidth = static_cast<size_t>(shape.heads) * dim;
  const size_t kvWidth = static_cast<size_t>(shape.keyValueHeads) * dim;
  const size_t capacity = static_cast<size_t>(shape.capacity), vocab = static_cast<size_t>(shape.vocab);
  // sizes and whether optional, in LlamaLayerWeights order
  const size_t sizes[kLayerWeights] = {d, d * queryWidth, queryWidth, d * kvWidth, kvWidth, d * kvWidth, kvWidth,
                                       queryWidth * d, d, dim, dim, d, d * inner, inner, d * inner, inner,
                                       inner * d, d};
  const bool optional[kLayerWeights] = {false, false, true, false, true, false, true, false, true,
                                        true,  true,  false, false, true, false, true, false, true};
  const char* names[kLayerWeights] = {"input_layernorm", "q_proj.weight", "q_proj.bias", "k_proj.weight",
                                      "k_proj.bias", "v_proj.weight", "v_proj.bias", "o_proj.weight",
                                      "o_proj.bias", "q_norm", "k_norm", "post_attention_layernorm",
                                      "gate_proj.weight", "gate_proj.bias", "up_proj.weight", "up_proj.bias",
                                      "down_proj.weight", "down_proj.bias"};
  const size_t cacheSize = rows * static_cast<size_t>(shape.keyValueHeads) * capacity * dim;
  std::vector<rlhfjs::LlamaLayerWeights> blocks(layers);
  std::vector<float*> keyCaches(layers), valueCaches(layers);
  for (uint32_t l = 0; l < layers; ++l) {
    const float* w[kLayerWeights];
    for (uint32_t i = 0; i < kLayerWeights; ++i) {
      w[i] = Floats(weights.Get(kLayerWeights * l + i), "layer " + std::to_string(l) + " " + names[i], sizes[i],
                    optional[i]);
    }
    if ((w[9] == nullptr) != (w[10] == nullptr)) {
      throw Napi::TypeError::New(env, std::string(kFunction) + ": q_norm and k_norm must both be given or both null");
    }
    blocks[l] = rlhfjs::LlamaLayerWeights{w[0], w[1], w[2],  w[3],  w[4],  w[5],  w[6],  w[7],  w[8],
                                          w[9], w[10], w[11], w[12], w[13], w[14], w[15], w[16], w[17]};
    keyCaches[l] = Floats(keys.Get(l), "keyCache " + std::to_string(l), cacheSize);
    valueCaches[l] = Floats(values.Get(l), "valueCache " + std::to_string(l), cacheSize);
  }
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[0].As<Napi::Int32Array>().ElementLength() != rows) {
    throw Napi::TypeError::New(env, std::string(kFunction) + ": ids must be an Int32Array of " + std::to_string(rows));
  }
  const int32_t* ids = info[0].As<Napi::Int32Array>().Data();
  for (size_t b = 0; b < rows; ++b) {
    if (ids[b] < 0 || static_cast<size_t>(ids[b]) >= vocab) {
      throw Napi::RangeError::New(env, std::string(kFunction) + ": token id " + std::to_string(ids[b]) +
                                           " out of range in row " + std::to_string(b));
    }
  }
  const float* embed = Floats(info[1], "embed", vocab * d);
  const float* bias = Floats(info[5], "bias", rows * capacity);
  const float* cos = Floats(info[6], "cos", rows * dim);
  const float* sin = Floats(info[7], "sin", rows * dim);
  const float* finalNorm = Floats(info[8], "finalNorm", d);
  const float* lmHead = Floats(info[9], "lmHead", d * vocab, true);
  float* hiddenOut = Floats(info[10], "hiddenOut", rows * d);
  float* logitsOut = Floats(info[11], "logitsOut", rows * vocab);
  rlhfjs::LlamaDecodeStep(ids, embed, blocks.data(), keyCaches.data(), valueCaches.data(), layers, bias, cos, sin,
                          finalNorm, lmHead, hiddenOut, logitsOut, shape);
  return env.Undefined();
}

}  // namespace

namespace rlhfjs {

void RegisterLlamaDecodeFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("llamaDecodeStep", Napi::Function::New(env, LlamaDecodeStepBinding));
}

}  // namespace rlhfjs
