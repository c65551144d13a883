// N-API binding of the fused decode kernels (decode.h). Every buffer length is checked against the shapes, so a
// wrong call from TypeScript throws a RangeError instead of reading or writing out of bounds.
#include <napi.h>

#include <string>
#include <vector>

#include "decode.h"

namespace {

float* Floats(const Napi::Value& value, const std::string& name, size_t expected, const char* function = "gpt2DecodeBlock") {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(function) + ": " + name + " must be a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  if (array.ElementLength() != expected) {
    throw Napi::RangeError::New(value.Env(), std::string(function) + ": " + name + " has " +
                                                 std::to_string(array.ElementLength()) + " floats, expected " +
                                                 std::to_string(expected));
  }
  return array.Data();
}

// gpt2DecodeBlock(x, weights[12], keyCache, valueCache, bias, out, batch, hidden, inner, heads, capacity, position,
// epsilon)
Napi::Value Gpt2DecodeBlockBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = info[6].As<Napi::Number>().Int64Value();
  const int64_t hidden = info[7].As<Napi::Number>().Int64Value();
  const int64_t inner = info[8].As<Napi::Number>().Int64Value();
  const int64_t heads = info[9].As<Napi::Number>().Int64Value();
  const int64_t capacity = info[10].As<Napi::Number>().Int64Value();
  const int64_t position = info[11].As<Napi::Number>().Int64Value();
  const float epsilon = info[12].As<Napi::Number>().FloatValue();
  if (batch < 1 || hidden < 1 || inner < 1 || heads < 1 || hidden % heads != 0 || position < 0 || position >= capacity) {
    throw Napi::RangeError::New(env, "gpt2DecodeBlock: invalid sizes (batch, hidden, inner, heads, capacity, position)");
  }
  if (!info[1].IsArray() || info[1].As<Napi::Array>().Length() != 12) {
    throw Napi::TypeError::New(env, "gpt2DecodeBlock: weights must be an array of 12 Float32Arrays");
  }
  Napi::Array weights = info[1].As<Napi::Array>();
  const size_t d = static_cast<size_t>(hidden), f = static_cast<size_t>(inner);
  const size_t sizes[12] = {d, d, d * 3 * d, 3 * d, d * d, d, d, d, d * f, f, f * d, d};
  const char* names[12] = {"ln_1.weight", "ln_1.bias", "c_attn.weight", "c_attn.bias", "c_proj.weight",
                           "c_proj.bias", "ln_2.weight", "ln_2.bias", "c_fc.weight", "c_fc.bias",
                           "mlp.c_proj.weight", "mlp.c_proj.bias"};
  const float* w[12];
  for (uint32_t i = 0; i < 12; ++i) w[i] = Floats(weights.Get(i), names[i], sizes[i]);
  const rlhfjs::Gpt2BlockWeights block{w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11]};
  const size_t rows = static_cast<size_t>(batch);
  const size_t cacheSize = rows * static_cast<size_t>(capacity) * d;
  const float* x = Floats(info[0], "x", rows * d);
  float* keyCache = Floats(info[2], "keyCache", cacheSize);
  float* valueCache = Floats(info[3], "valueCache", cacheSize);
  const float* bias = Floats(info[4], "bias", rows * static_cast<size_t>(capacity));
  float* out = Floats(info[5], "out", rows * d);
  if (out == x) throw Napi::RangeError::New(env, "gpt2DecodeBlock: out must not alias x");
  rlhfjs::Gpt2DecodeBlock(x, block, keyCache, valueCache, bias, out, batch, hidden, inner, heads, capacity, position,
                          epsilon);
  return env.Undefined();
}

const int32_t* Ints(const Napi::Value& value, const char* name, size_t expected) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      value.As<Napi::Int32Array>().ElementLength() != expected) {
    throw Napi::TypeError::New(value.Env(), std::string("gpt2DecodeStep: ") + name + " must be an Int32Array of " +
                                                std::to_string(expected));
  }
  return value.As<Napi::Int32Array>().Data();
}

// gpt2DecodeStep(ids, positions, wte, wpe, blockWeights[12 L], keyCaches[L], valueCaches[L], bias, finalWeight,
// finalBias, hiddenOut, logitsOut, batch, hidden, inner, heads, capacity, position, vocab, maxPositions, epsilon)
Napi::Value Gpt2DecodeStepBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "gpt2DecodeStep";
  const int64_t batch = info[12].As<Napi::Number>().Int64Value();
  const int64_t hidden = info[13].As<Napi::Number>().Int64Value();
  const int64_t inner = info[14].As<Napi::Number>().Int64Value();
  const int64_t heads = info[15].As<Napi::Number>().Int64Value();
  const int64_t capacity = info[16].As<Napi::Number>().Int64Value();
  const int64_t position = info[17].As<Napi::Number>().Int64Value();
  const int64_t vocab = info[18].As<Napi::Number>().Int64Value();
  const int64_t maxPositions = info[19].As<Napi::Number>().Int64Value();
  const float epsilon = info[20].As<Napi::Number>().FloatValue();
  if (batch < 1 || hidden < 1 || inner < 1 || heads < 1 || hidden % heads != 0 || position < 0 ||
      position >= capacity || vocab < 1 || maxPositions < 1) {
    throw Napi::RangeError::New(env, "gpt2DecodeStep: invalid sizes");
  }
  if (!info[4].IsArray() || !info[5].IsArray() || !info[6].IsArray()) {
    throw Napi::TypeError::New(env, "gpt2DecodeStep: blockWeights, keyCaches and valueCaches must be arrays");
  }
  Napi::Array weights = info[4].As<Napi::Array>();
  Napi::Array keys = info[5].As<Napi::Array>();
  Napi::Array values = info[6].As<Napi::Array>();
  const uint32_t layers = keys.Length();
  if (values.Length() != layers || weights.Length() != 12 * layers) {
    throw Napi::RangeError::New(env, "gpt2DecodeStep: need 12 weights and one key and value cache per layer");
  }
  const size_t d = static_cast<size_t>(hidden), f = static_cast<size_t>(inner), rows = static_cast<size_t>(batch);
  const size_t sizes[12] = {d, d, d * 3 * d, 3 * d, d * d, d, d, d, d * f, f, f * d, d};
  const size_t cacheSize = rows * static_cast<size_t>(capacity) * d;
  std::vector<rlhfjs::Gpt2BlockWeights> blocks(layers);
  std::vector<float*> keyCaches(layers), valueCaches(layers);
  for (uint32_t l = 0; l < layers; ++l) {
    const float* w[12];
    for (uint32_t i = 0; i < 12; ++i) w[i] = Floats(weights.Get(12 * l + i), "weight " + std::to_string(12 * l + i), sizes[i], fn);
    blocks[l] = rlhfjs::Gpt2BlockWeights{w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11]};
    keyCaches[l] = Floats(keys.Get(l), "keyCache", cacheSize, fn);
    valueCaches[l] = Floats(values.Get(l), "valueCache", cacheSize, fn);
  }
  const int32_t* ids = Ints(info[0], "ids", rows);
  const int32_t* positions = Ints(info[1], "positions", rows);
  for (size_t b = 0; b < rows; ++b) {
    if (ids[b] < 0 || ids[b] >= vocab || positions[b] < 0 || positions[b] >= maxPositions) {
      throw Napi::RangeError::New(env, "gpt2DecodeStep: token id or position out of range in row " + std::to_string(b));
    }
  }
  const float* wte = Floats(info[2], "wte", static_cast<size_t>(vocab) * d, fn);
  const float* wpe = Floats(info[3], "wpe", static_cast<size_t>(maxPositions) * d, fn);
  const float* bias = Floats(info[7], "bias", rows * static_cast<size_t>(capacity), fn);
  const float* finalWeight = Floats(info[8], "finalWeight", d, fn);
  const float* finalBias = Floats(info[9], "finalBias", d, fn);
  float* hiddenOut = Floats(info[10], "hiddenOut", rows * d, fn);
  float* logitsOut = Floats(info[11], "logitsOut", rows * static_cast<size_t>(vocab), fn);
  rlhfjs::Gpt2DecodeStep(ids, positions, wte, wpe, blocks.data(), keyCaches.data(), valueCaches.data(), layers, bias,
                         finalWeight, finalBias, hiddenOut, logitsOut, batch, hidden, inner, heads, capacity, position,
                         vocab, epsilon);
  return env.Undefined();
}

}  // namespace

namespace rlhfjs {

void RegisterLlamaDecodeFunctions(Napi::Env env, Napi::Object exports);  // llama_decode_addon.cc

void RegisterDecodeFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("gpt2DecodeBlock", Napi::Function::New(env, Gpt2DecodeBlockBinding));
  exports.Set("gpt2DecodeStep", Napi::Function::New(env, Gpt2DecodeStepBinding));
  RegisterLlamaDecodeFunctions(env, exports);
}

}  // namespace rlhfjs
