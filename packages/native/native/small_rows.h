// Products of a few rows (a decode step: one token per batch row) against a large weight matrix, streaming the
// weight once instead of packing it as a general GEMM does. No tfjs or N-API types here.
#pragma once
#include <cstdint>

namespace rlhfjs {

// Rows up to which the decode steps use the kernels below; above it they call OpenBLAS sgemm.
constexpr int64_t kSmallRowsLimit = 16;

// y[rows, n] = x[rows, k] @ w[k, n] + bias[n] (bias may be null), plus the y already there when accumulate.
// Streams w once, four rows at a time, into panels of up to 8192 outputs held in L1 (whole rows of w at batch 1);
// splits the columns over the worker threads (ParallelFor) when the weight is large (past 2 MB) or the product is
// (past 2^23 multiply-adds). y may not alias x.
void SmallRowsAffine(const float* x, const float* w, const float* bias, float* y, int64_t rows, int64_t k, int64_t n,
                     bool accumulate);

// y[rows, n] = x[rows, k] @ w[n, k]ᵀ: the dot-product form (a tied LM head reads the embedding [V, D] in place).
void SmallRowsTransposed(const float* x, const float* w, float* y, int64_t rows, int64_t k, int64_t n);

}  // namespace rlhfjs
