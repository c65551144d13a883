// N-API bindings of the native backend's kernels. Every function checks the buffer lengths it is given, so a
// wrong call from TypeScript throws a RangeError instead of reading or writing out of bounds.
#include <napi.h>

#include <cblas.h>

#include <string>
#include <vector>

#include "kernels.h"

namespace rlhfjs {
void RegisterDecodeFunctions(Napi::Env env, Napi::Object exports);  // decode_addon.cc
}  // namespace rlhfjs

namespace {

using rlhfjs::GemmBatched;

float* FloatData(const Napi::Value& value, const char* name, size_t* length) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  *length = array.ElementLength();
  return array.Data();
}

const int32_t* IntData(const Napi::Value& value, const char* name, size_t* length) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be an Int32Array");
  }
  Napi::Int32Array array = value.As<Napi::Int32Array>();
  *length = array.ElementLength();
  return array.Data();
}

std::vector<int64_t> Int64Vector(const Napi::Value& value, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a Float64Array");
  }
  Napi::Float64Array array = value.As<Napi::Float64Array>();
  std::vector<int64_t> result(array.ElementLength());
  for (size_t i = 0; i < result.size(); ++i) result[i] = static_cast<int64_t>(array[i]);
  return result;
}

int64_t Integer(const Napi::CallbackInfo& info, size_t index) { return info[index].As<Napi::Number>().Int64Value(); }

void Require(const Napi::Env& env, bool condition, const char* function, const char* message) {
  if (!condition) throw Napi::RangeError::New(env, std::string(function) + ": " + message);
}

// gemm(a, b, c, batch, m, n, k, transposeA, transposeB, aOffsets, bOffsets)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t aLength, bLength, cLength;
  const float* a = FloatData(info[0], "a", &aLength);
  const float* b = FloatData(info[1], "b", &bLength);
  float* c = FloatData(info[2], "c", &cLength);
  const int64_t batch = Integer(info, 3), m = Integer(info, 4), n = Integer(info, 5), k = Integer(info, 6);
  const bool transposeA = info[7].ToBoolean(), transposeB = info[8].ToBoolean();
  std::vector<int64_t> aOffsets = Int64Vector(info[9], "aOffsets");
  std::vector<int64_t> bOffsets = Int64Vector(info[10], "bOffsets");
  Require(env, batch >= 0 && m >= 0 && n >= 0 && k >= 0, "gemm", "negative dimension");
  Require(env, static_cast<int64_t>(cLength) >= batch * m * n, "gemm", "output too small");
  Require(env, static_cast<int64_t>(aOffsets.size()) >= batch && static_cast<int64_t>(bOffsets.size()) >= batch,
          "gemm", "offsets shorter than batch");
  for (int64_t i = 0; i < batch && m * n * k > 0; ++i) {
    Require(env, aOffsets[i] >= 0 && aOffsets[i] + m * k <= static_cast<int64_t>(aLength), "gemm", "a out of range");
    Require(env, bOffsets[i] >= 0 && bOffsets[i] + k * n <= static_cast<int64_t>(bLength), "gemm", "b out of range");
  }
  GemmBatched(a, b, c, batch, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), transposeA, transposeB,
              aOffsets.data(), bOffsets.data());
  return env.Undefined();
}

// biasActivation(c, rows, n, bias | null, activation, alpha)
Napi::Value BiasActivation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t cLength, biasLength = 0;
  float* c = FloatData(info[0], "c", &cLength);
  const int64_t rows = Integer(info, 1), n = Integer(info, 2);
  const float* bias = info[3].IsNull() ? nullptr : FloatData(info[3], "bias", &biasLength);
  Require(env, rows >= 0 && n >= 0 && static_cast<int64_t>(cLength) >= rows * n, "biasActivation", "c too small");
  Require(env, bias == nullptr || static_cast<int64_t>(biasLength) >= n, "biasActivation", "bias too small");
  rlhfjs::BiasActivation(c, rows, static_cast<int>(n), bias, static_cast<int>(Integer(info, 4)),
                         info[5].As<Napi::Number>().FloatValue());
  return env.Undefined();
}

int64_t MaxIndex(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  int64_t index = 0;
  for (size_t d = 0; d < shape.size(); ++d) index += (shape[d] - 1) * strides[d];
  return index;
}

// binary(op, a, aStrides, b, bStrides, out, outShape)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t aLength, bLength, outLength;
  const int op = static_cast<int>(Integer(info, 0));
  const float* a = FloatData(info[1], "a", &aLength);
  std::vector<int64_t> aStrides = Int64Vector(info[2], "aStrides");
  const float* b = FloatData(info[3], "b", &bLength);
  std::vector<int64_t> bStrides = Int64Vector(info[4], "bStrides");
  float* out = FloatData(info[5], "out", &outLength);
  std::vector<int64_t> outShape = Int64Vector(info[6], "outShape");
  Require(env, outShape.size() <= 8 && aStrides.size() == outShape.size() && bStrides.size() == outShape.size(),
          "binary", "rank mismatch or rank above 8");
  int64_t total = 1;
  for (int64_t d : outShape) total *= d;
  if (total > 0) {
    Require(env, static_cast<int64_t>(outLength) >= total, "binary", "out too small");
    Require(env, MaxIndex(outShape, aStrides) < static_cast<int64_t>(aLength), "binary", "a too small");
    Require(env, MaxIndex(outShape, bStrides) < static_cast<int64_t>(bLength), "binary", "b too small");
  }
  rlhfjs::Binary(op, a, aStrides.data(), b, bStrides.data(), out, outShape.data(), static_cast<int>(outShape.size()));
  return env.Undefined();
}

// unary(op, x, out, alpha)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, outLength;
  const float* x = FloatData(info[1], "x", &xLength);
  float* out = FloatData(info[2], "out", &outLength);
  Require(env, outLength >= xLength, "unary", "out too small");
  rlhfjs::Unary(static_cast<int>(Integer(info, 0)), x, out, static_cast<int64_t>(xLength),
                info[3].As<Napi::Number>().FloatValue());
  return env.Undefined();
}

// reduce(op, x, out, outer, reduce, inner)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, outLength;
  const float* x = FloatData(info[1], "x", &xLength);
  float* out = FloatData(info[2], "out", &outLength);
  const int64_t outer = Integer(info, 3), reduce = Integer(info, 4), inner = Integer(info, 5);
  Require(env, static_cast<int64_t>(xLength) >= outer * reduce * inner, "reduce", "x too small");
  Require(env, static_cast<int64_t>(outLength) >= outer * inner, "reduce", "out too small");
  rlhfjs::Reduce(static_cast<int>(Integer(info, 0)), x, out, outer, reduce, inner);
  return env.Undefined();
}

// softmax(x, out, rows, cols)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, outLength;
  const float* x = FloatData(info[0], "x", &xLength);
  float* out = FloatData(info[1], "out", &outLength);
  const int64_t rows = Integer(info, 2), cols = Integer(info, 3);
  Require(env, static_cast<int64_t>(xLength) >= rows * cols && static_cast<int64_t>(outLength) >= rows * cols,
          "softmax", "buffer too small");
  rlhfjs::Softmax(x, out, rows, cols);
  return env.Undefined();
}

// transpose(x, out, xShape, perm)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, outLength, permLength;
  const float* x = FloatData(info[0], "x", &xLength);
  float* out = FloatData(info[1], "out", &outLength);
  std::vector<int64_t> shape = Int64Vector(info[2], "xShape");
  const int32_t* perm = IntData(info[3], "perm", &permLength);
  Require(env, shape.size() >= 1 && shape.size() <= 8 && permLength == shape.size(), "transpose", "bad rank");
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  std::vector<bool> seen(shape.size(), false);
  for (size_t d = 0; d < permLength; ++d) {
    Require(env, perm[d] >= 0 && static_cast<size_t>(perm[d]) < shape.size() && !seen[perm[d]], "transpose",
            "perm is not a permutation");
    seen[perm[d]] = true;
  }
  Require(env, static_cast<int64_t>(xLength) >= total && static_cast<int64_t>(outLength) >= total, "transpose",
          "buffer too small");
  rlhfjs::Transpose(x, out, shape.data(), perm, static_cast<int>(shape.size()));
  return env.Undefined();
}

// gather(x, indices, out, outer, indexCount, inner, axisSize) -> first bad index position or -1
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, indicesLength, outLength;
  const float* x = FloatData(info[0], "x", &xLength);
  const int32_t* indices = IntData(info[1], "indices", &indicesLength);
  float* out = FloatData(info[2], "out", &outLength);
  const int64_t outer = Integer(info, 3), indexCount = Integer(info, 4), inner = Integer(info, 5),
                axisSize = Integer(info, 6);
  Require(env, static_cast<int64_t>(indicesLength) >= indexCount, "gather", "indices too short");
  Require(env, static_cast<int64_t>(xLength) >= outer * axisSize * inner, "gather", "x too small");
  Require(env, static_cast<int64_t>(outLength) >= outer * indexCount * inner, "gather", "out too small");
  return Napi::Number::New(env, static_cast<double>(rlhfjs::Gather(x, indices, out, outer, indexCount, inner,
                                                                   axisSize)));
}

// unsortedSegmentSum(x, segmentIds, out, rows, inner, numSegments)
Napi::Value UnsortedSegmentSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, idsLength, outLength;
  const float* x = FloatData(info[0], "x", &xLength);
  const int32_t* ids = IntData(info[1], "segmentIds", &idsLength);
  float* out = FloatData(info[2], "out", &outLength);
  const int64_t rows = Integer(info, 3), inner = Integer(info, 4), numSegments = Integer(info, 5);
  Require(env, static_cast<int64_t>(idsLength) >= rows && static_cast<int64_t>(xLength) >= rows * inner,
          "unsortedSegmentSum", "x or segmentIds too small");
  Require(env, static_cast<int64_t>(outLength) >= numSegments * inner, "unsortedSegmentSum", "out too small");
  rlhfjs::UnsortedSegmentSum(x, ids, out, rows, inner, numSegments);
  return env.Undefined();
}

// copy2d(src, srcOffset, srcStride, dst, dstOffset, dstStride, rows, rowLength)
Napi::Value Copy2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t srcLength, dstLength;
  const float* src = FloatData(info[0], "src", &srcLength);
  const int64_t srcOffset = Integer(info, 1), srcStride = Integer(info, 2);
  float* dst = FloatData(info[3], "dst", &dstLength);
  const int64_t dstOffset = Integer(info, 4), dstStride = Integer(info, 5), rows = Integer(info, 6),
                rowLength = Integer(info, 7);
  if (rows > 0 && rowLength > 0) {
    Require(env, srcOffset >= 0 && srcStride >= 0 && dstOffset >= 0 && dstStride >= 0, "copy2d", "negative offset");
    Require(env, srcOffset + (rows - 1) * srcStride + rowLength <= static_cast<int64_t>(srcLength), "copy2d",
            "src too small");
    Require(env, dstOffset + (rows - 1) * dstStride + rowLength <= static_cast<int64_t>(dstLength), "copy2d",
            "dst too small");
    rlhfjs::Copy2d(src, srcOffset, srcStride, dst, dstOffset, dstStride, rows, rowLength);
  }
  return env.Undefined();
}

// slice(x, out, xShape, begin, size)
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, outLength;
  const float* x = FloatData(info[0], "x", &xLength);
  float* out = FloatData(info[1], "out", &outLength);
  std::vector<int64_t> shape = Int64Vector(info[2], "xShape");
  std::vector<int64_t> begin = Int64Vector(info[3], "begin");
  std::vector<int64_t> size = Int64Vector(info[4], "size");
  Require(env, shape.size() <= 8 && begin.size() == shape.size() && size.size() == shape.size(), "slice", "bad rank");
  int64_t total = 1, xTotal = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    Require(env, begin[d] >= 0 && size[d] >= 0 && begin[d] + size[d] <= shape[d], "slice", "slice out of bounds");
    total *= size[d];
    xTotal *= shape[d];
  }
  Require(env, static_cast<int64_t>(xLength) >= xTotal && static_cast<int64_t>(outLength) >= total, "slice",
          "buffer too small");
  rlhfjs::Slice(x, out, shape.data(), begin.data(), size.data(), static_cast<int>(shape.size()));
  return env.Undefined();
}

// select(condition, a, b, out)
Napi::Value Select(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "condition must be a Uint8Array");
  }
  Napi::Uint8Array condition = info[0].As<Napi::Uint8Array>();
  size_t aLength, bLength, outLength;
  const float* a = FloatData(info[1], "a", &aLength);
  const float* b = FloatData(info[2], "b", &bLength);
  float* out = FloatData(info[3], "out", &outLength);
  const size_t size = condition.ElementLength();
  Require(env, aLength >= size && bLength >= size && outLength >= size, "select", "buffer too small");
  rlhfjs::Select(condition.Data(), a, b, out, static_cast<int64_t>(size));
  return env.Undefined();
}

// Targets of a row kernel: at least `rows`, each in [-1, vocab) (-1 skips the row).
void RequireTargets(const Napi::Env& env, const int32_t* targets, size_t length, int64_t rows, int64_t vocab,
                    const char* function) {
  Require(env, static_cast<int64_t>(length) >= rows, function, "targets shorter than rows");
  for (int64_t r = 0; r < rows; ++r) {
    Require(env, targets[r] >= -1 && targets[r] < vocab, function, "target outside [-1, vocab)");
  }
}

// targetLogProbs(logits, targets, out, logSumExp, rows, vocab, temperature)
Napi::Value TargetLogProbs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t logitsLength, targetsLength, outLength, lseLength;
  const float* logits = FloatData(info[0], "logits", &logitsLength);
  const int32_t* targets = IntData(info[1], "targets", &targetsLength);
  float* out = FloatData(info[2], "out", &outLength);
  float* lse = FloatData(info[3], "logSumExp", &lseLength);
  const int64_t rows = Integer(info, 4), vocab = Integer(info, 5);
  const float temperature = info[6].As<Napi::Number>().FloatValue();
  Require(env, rows >= 0 && vocab > 0 && temperature > 0, "targetLogProbs", "bad rows, vocab or temperature");
  Require(env, static_cast<int64_t>(logitsLength) >= rows * vocab, "targetLogProbs", "logits too small");
  Require(env, static_cast<int64_t>(outLength) >= rows && static_cast<int64_t>(lseLength) >= rows, "targetLogProbs",
          "out or logSumExp too small");
  RequireTargets(env, targets, targetsLength, rows, vocab, "targetLogProbs");
  rlhfjs::TargetLogProbs(logits, targets, out, lse, rows, vocab, temperature);
  return env.Undefined();
}

// targetLogProbsGrad(logits, targets, logSumExp, dy, dLogits, rows, vocab, temperature)
Napi::Value TargetLogProbsGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t logitsLength, targetsLength, lseLength, dyLength, gradLength;
  const float* logits = FloatData(info[0], "logits", &logitsLength);
  const int32_t* targets = IntData(info[1], "targets", &targetsLength);
  const float* lse = FloatData(info[2], "logSumExp", &lseLength);
  const float* dy = FloatData(info[3], "dy", &dyLength);
  float* grad = FloatData(info[4], "dLogits", &gradLength);
  const int64_t rows = Integer(info, 5), vocab = Integer(info, 6);
  const float temperature = info[7].As<Napi::Number>().FloatValue();
  Require(env, rows >= 0 && vocab > 0 && temperature > 0, "targetLogProbsGrad", "bad rows, vocab or temperature");
  Require(env, static_cast<int64_t>(logitsLength) >= rows * vocab && static_cast<int64_t>(gradLength) >= rows * vocab,
          "targetLogProbsGrad", "logits or dLogits too small");
  Require(env, static_cast<int64_t>(lseLength) >= rows && static_cast<int64_t>(dyLength) >= rows,
          "targetLogProbsGrad", "logSumExp or dy too small");
  RequireTargets(env, targets, targetsLength, rows, vocab, "targetLogProbsGrad");
  rlhfjs::TargetLogProbsGrad(logits, targets, lse, dy, grad, rows, vocab, temperature);
  return env.Undefined();
}

// elementwise(name, inputs[], outputs[]): the fused activations, every array of one length.
Napi::Value FusedElementwise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Napi::Array inputArray = info[1].As<Napi::Array>();
  Napi::Array outputArray = info[2].As<Napi::Array>();
  std::vector<float*> inputs, outputs;
  size_t size = 0;
  for (uint32_t i = 0; i < inputArray.Length(); ++i) {
    size_t length;
    inputs.push_back(FloatData(inputArray.Get(i), "input", &length));
    Require(env, i == 0 || length == size, "fusedElementwise", "inputs differ in length");
    size = length;
  }
  for (uint32_t i = 0; i < outputArray.Length(); ++i) {
    size_t length;
    outputs.push_back(FloatData(outputArray.Get(i), "output", &length));
    Require(env, length >= size, "fusedElementwise", "output too small");
  }
  auto arity = [&](size_t in, size_t out) {
    Require(env, inputs.size() == in && outputs.size() == out, "fusedElementwise", "wrong number of arrays");
  };
  const int64_t n = static_cast<int64_t>(size);
  if (name == "geluNew") {
    arity(1, 1);
    rlhfjs::GeluNew(inputs[0], outputs[0], n);
  } else if (name == "geluNewGrad") {
    arity(2, 1);
    rlhfjs::GeluNewGrad(inputs[0], inputs[1], outputs[0], n);
  } else if (name == "siluMul") {
    arity(2, 1);
    rlhfjs::SiluMul(inputs[0], inputs[1], outputs[0], n);
  } else if (name == "siluMulGrad") {
    arity(3, 2);
    rlhfjs::SiluMulGrad(inputs[0], inputs[1], inputs[2], outputs[0], outputs[1], n);
  } else {
    throw Napi::RangeError::New(env, "fusedElementwise: unknown op " + name);
  }
  return env.Undefined();
}

// adamW(param, grad, m, v, paramOut, mOut, vOut, coefficients: Float64Array[9])
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t lengths[7];
  const char* names[7] = {"param", "grad", "m", "v", "paramOut", "mOut", "vOut"};
  float* arrays[7];
  for (int i = 0; i < 7; ++i) {
    arrays[i] = FloatData(info[i], names[i], &lengths[i]);
    Require(env, lengths[i] == lengths[0], "adamW", "arrays differ in length");
  }
  if (!info[7].IsTypedArray() || info[7].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "coefficients must be a Float64Array");
  }
  Napi::Float64Array values = info[7].As<Napi::Float64Array>();
  Require(env, values.ElementLength() == 9, "adamW", "coefficients must have 9 entries");
  rlhfjs::AdamWCoefficients c;
  c.decays = values[0] != 0.0;
  c.decayFactor = static_cast<float>(values[1]);
  c.beta1 = static_cast<float>(values[2]);
  c.oneMinusBeta1 = static_cast<float>(values[3]);
  c.beta2 = static_cast<float>(values[4]);
  c.oneMinusBeta2 = static_cast<float>(values[5]);
  c.biasCorrection2Sqrt = static_cast<float>(values[6]);
  c.epsilon = static_cast<float>(values[7]);
  c.stepSize = static_cast<float>(values[8]);
  rlhfjs::AdamWUpdate(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5], arrays[6],
                      static_cast<int64_t>(lengths[0]), c);
  return env.Undefined();
}

// norm(x, weight, bias | null, y, mean, rstd, rows, width, epsilon, rms)
Napi::Value Norm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, weightLength, biasLength = 0, yLength, meanLength, rstdLength;
  const float* x = FloatData(info[0], "x", &xLength);
  const float* weight = FloatData(info[1], "weight", &weightLength);
  const float* bias = info[2].IsNull() ? nullptr : FloatData(info[2], "bias", &biasLength);
  float* y = FloatData(info[3], "y", &yLength);
  float* mean = FloatData(info[4], "mean", &meanLength);
  float* rstd = FloatData(info[5], "rstd", &rstdLength);
  const int64_t rows = Integer(info, 6), width = Integer(info, 7);
  Require(env, rows >= 0 && width > 0, "norm", "bad rows or width");
  Require(env, static_cast<int64_t>(xLength) >= rows * width && static_cast<int64_t>(yLength) >= rows * width, "norm",
          "x or y too small");
  Require(env, static_cast<int64_t>(weightLength) >= width && (bias == nullptr || static_cast<int64_t>(biasLength) >= width),
          "norm", "weight or bias too small");
  Require(env, static_cast<int64_t>(meanLength) >= rows && static_cast<int64_t>(rstdLength) >= rows, "norm",
          "mean or rstd too small");
  rlhfjs::Norm(x, weight, bias, y, mean, rstd, rows, width, info[8].As<Napi::Number>().FloatValue(), info[9].ToBoolean());
  return env.Undefined();
}

// normGrad(x, weight, mean, rstd, dy, dx, dWeight, dBias, rows, width, rms)
Napi::Value NormGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t lengths[8];
  const char* names[8] = {"x", "weight", "mean", "rstd", "dy", "dx", "dWeight", "dBias"};
  float* arrays[8];
  for (int i = 0; i < 8; ++i) arrays[i] = FloatData(info[i], names[i], &lengths[i]);
  const int64_t rows = Integer(info, 8), width = Integer(info, 9);
  Require(env, rows >= 0 && width > 0, "normGrad", "bad rows or width");
  const int64_t need[8] = {rows * width, width, rows, rows, rows * width, rows * width, width, width};
  for (int i = 0; i < 8; ++i) Require(env, static_cast<int64_t>(lengths[i]) >= need[i], "normGrad", names[i]);
  rlhfjs::NormGrad(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5], arrays[6], arrays[7], rows, width,
                   info[10].ToBoolean());
  return env.Undefined();
}

// rope(x, cos, sin, out, batch, heads, length, width, inverse)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t xLength, cosLength, sinLength, outLength;
  const float* x = FloatData(info[0], "x", &xLength);
  const float* cos = FloatData(info[1], "cos", &cosLength);
  const float* sin = FloatData(info[2], "sin", &sinLength);
  float* out = FloatData(info[3], "out", &outLength);
  const int64_t batch = Integer(info, 4), heads = Integer(info, 5), length = Integer(info, 6), width = Integer(info, 7);
  Require(env, batch >= 0 && heads >= 0 && length >= 0 && width >= 0 && width % 2 == 0, "rope", "bad shape");
  const int64_t size = batch * heads * length * width, tableSize = batch * length * width;
  Require(env, static_cast<int64_t>(xLength) >= size && static_cast<int64_t>(outLength) >= size, "rope",
          "x or out too small");
  Require(env, static_cast<int64_t>(cosLength) >= tableSize && static_cast<int64_t>(sinLength) >= tableSize, "rope",
          "tables too small");
  rlhfjs::Rope(x, cos, sin, out, batch, heads, length, width, info[8].ToBoolean());
  return env.Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("config", Napi::String::New(env, openblas_get_config()));
  result.Set("corename", Napi::String::New(env, openblas_get_corename()));
  result.Set("threads", Napi::Number::New(env, openblas_get_num_threads()));
  result.Set("processors", Napi::Number::New(env, openblas_get_num_procs()));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("biasActivation", Napi::Function::New(env, BiasActivation));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("gather", Napi::Function::New(env, Gather));
  exports.Set("unsortedSegmentSum", Napi::Function::New(env, UnsortedSegmentSum));
  exports.Set("copy2d", Napi::Function::New(env, Copy2d));
  exports.Set("slice", Napi::Function::New(env, Slice));
  exports.Set("select", Napi::Function::New(env, Select));
  exports.Set("targetLogProbs", Napi::Function::New(env, TargetLogProbs));
  exports.Set("targetLogProbsGrad", Napi::Function::New(env, TargetLogProbsGrad));
  exports.Set("fusedElementwise", Napi::Function::New(env, FusedElementwise));
  exports.Set("adamW", Napi::Function::New(env, AdamW));
  exports.Set("norm", Napi::Function::New(env, Norm));
  exports.Set("normGrad", Napi::Function::New(env, NormGrad));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("info", Napi::Function::New(env, Info));
  rlhfjs::RegisterDecodeFunctions(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(rlhfjs_native, Init)
