// N-API binding of the fused decode kernels (decode.h). Every buffer length is checked against the shapes, so a
// wrong call from TypeScript throws a RangeError instead of reading or writing out of bounds.
#include <napi.h>

#include <string>

#include "decode.h"

namespace {

float* Floats(const Napi::Value& value, const std::string& name, size_t expected) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), "gpt2DecodeBlock: " + name + " must be a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  if (array.ElementLength() != expected) {
    throw Napi::RangeError::New(value.Env(), "gpt2DecodeBlock: " + name + " has " +
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

}  // namespace

namespace rlhfjs {

void RegisterDecodeFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("gpt2DecodeBlock", Napi::Function::New(env, Gpt2DecodeBlockBinding));
}

}  // namespace rlhfjs
