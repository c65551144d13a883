// What the fused GPT-2 and Llama-family decode steps share: their products and attention of one query head over
// the KV cache.
#pragma once

#include <cblas.h>

#include <cmath>
#include <cstdint>

#include "small_rows.h"

namespace rlhfjs {

// y[rows, n] = x[rows, k] @ w[k, n] (+ bias[n] when not null) (+ y when accumulate: a residual already in y). The
// small-rows kernels stream w once up to kSmallRowsLimit rows; OpenBLAS sgemm above.
inline void DecodeAffine(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t k,
                         int64_t n, bool accumulate) {
  if (rows <= kSmallRowsLimit) {
    SmallRowsAffine(x, w, bias, y, rows, k, n, accumulate);
    return;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const float b = bias == nullptr ? 0.0f : bias[j];
      y[r * n + j] = accumulate ? y[r * n + j] + b : b;
    }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(n),
              static_cast<int>(k), 1.0f, x, static_cast<int>(k), w, static_cast<int>(n), 1.0f, y,
              static_cast<int>(n));
}

// Entries of the attention bias at or below this mask their key (core's bias uses -1e9).
constexpr float kMaskedBelow = -1e8f;

// Whether any of the first `length` keys of a bias row is allowed. A row with none (a padding row) attends to all of
// them with the bias added, as the portable softmax over a -1e9 row does, instead of dividing by zero.
inline bool AnyKeyAllowed(const float* biasRow, int64_t length) {
  for (int64_t s = 0; s < length; ++s) {
    if (biasRow[s] > kMaskedBelow) return true;
  }
  return false;
}

// out[d] = softmax(keys[L, d] query[d] · scale + biasRow[L]) @ values[L, d] over the first L = `length` cached
// positions (the softmax in double, masked keys exactly 0); `weights` is scratch of L floats.
inline void AttendOverCache(const float* query, const float* keys, const float* values, const float* biasRow,
                            bool anyAllowed, int64_t length, int64_t dim, float scale, float* weights, float* out) {
  SmallRowsTransposed(query, keys, weights, 1, dim, length);  // [L] = keys[L, d] query[d]
  float maximum = -INFINITY;
  for (int64_t s = 0; s < length; ++s) {
    weights[s] = weights[s] * scale + biasRow[s];
    if (!(anyAllowed && biasRow[s] <= kMaskedBelow) && weights[s] > maximum) maximum = weights[s];
  }
  double total = 0;
  for (int64_t s = 0; s < length; ++s) {
    const float weight = anyAllowed && biasRow[s] <= kMaskedBelow ? 0.0f : std::exp(weights[s] - maximum);
    weights[s] = weight;
    total += weight;
  }
  const float normalizer = static_cast<float>(1.0 / total);
  for (int64_t s = 0; s < length; ++s) weights[s] *= normalizer;
  SmallRowsAffine(weights, values, nullptr, out, 1, length, dim, false);  // out[d] = weights[L] @ values[L, d]
}

}  // namespace rlhfjs
