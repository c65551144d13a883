// Branch-free float32 exp and tanh that GCC vectorises (SSE2 at the addon's default target: 4 lanes), for the
// elementwise kernels whose time is all transcendental calls (GELU, SiLU, softmax, target log-probs). libm's expf
// is a call per element that blocks vectorisation: ~5–10 ns each against ~1 ns a lane here.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// Always inlined: GCC does not inline a baseline function into a multiversioned clone (RLHFJS_VECTOR_CLONES) unless
// told to, and a call per element would undo the vectorisation.
#if defined(__GNUC__)
#define RLHFJS_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define RLHFJS_ALWAYS_INLINE inline
#endif

namespace rlhfjs {

// e^x, within ~2 float32 ulps on [−87.3, 88.7] (Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for
// e^r, 2^n from the exponent bits). Below −87.3 (results under FLT_MIN) it returns 0, flushing denormals; above 88.7
// it returns e^88.7 ≈ 3.3e38 rather than infinity; NaN stays NaN. Build with -fno-trapping-math, or GCC keeps the
// selects as branches and does not vectorise.
static RLHFJS_ALWAYS_INLINE float VectorExp(float input) {
  float x = input < -87.3f ? -87.3f : input;
  x = x > 88.7f ? 88.7f : x;
  // Round x·log2(e) to the nearest integer by adding 1.5·2^23 (the integer lands in the low mantissa bits).
  constexpr float kRound = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + kRound;
  const float n = shifted - kRound;
  int32_t shiftedBits, roundBits;
  std::memcpy(&shiftedBits, &shifted, sizeof shiftedBits);
  const float round = kRound;
  std::memcpy(&roundBits, &round, sizeof roundBits);
  const int32_t exponent = shiftedBits - roundBits;  // n as an integer, in [−126, 128]
  // r = x − n·ln2 with ln2 split in two (Cody–Waite) so that r keeps its low bits.
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * (r * r) + r + 1.0f;
  // 2^n as 2^⌊n/2⌋·2^(n−⌊n/2⌋): each factor a normal float for every n in [−126, 128].
  const int32_t half = exponent >> 1;
  const int32_t firstBits = (half + 127) << 23, secondBits = (exponent - half + 127) << 23;
  float first, second;
  std::memcpy(&first, &firstBits, sizeof first);
  std::memcpy(&second, &secondBits, sizeof second);
  const float value = er * first * second;
  return input < -87.3f ? 0.0f : value;
}

// tanh(x) within a few float32 ulps: the odd Taylor series to x^7 for |x| < 0.1 (next term < 3e-11 relative),
// else sign(x)·(1 − e^{−2|x|})/(1 + e^{−2|x|}), which rounds to ±1 for |x| > 9. Both are computed and one is kept, so
// the loop stays branch-free; NaN stays NaN.
static RLHFJS_ALWAYS_INLINE float VectorTanh(float x) {
  const float a = std::fabs(x);
  const float x2 = x * x;
  const float series = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
  const float t = VectorExp(-2.0f * a);
  const float ratio = std::copysign((1.0f - t) / (1.0f + t), x);
  return a < 0.1f ? series : ratio;
}

}  // namespace rlhfjs

// Marks a loop function to be compiled three times (AVX-512F, AVX2, baseline) with the best picked at load time
// (GCC's function multiversioning through an ifunc); the baseline build keeps the addon portable. Clones are named by
// ISA feature, not "arch=…": an arch clone is picked only on that exact CPU model (__builtin_cpu_is), so a newer
// Xeon would get the baseline. GCC 12 leaves
// the clones of a `static` function unvectorised ("control flow in loop"), so marked functions have external
// linkage (inside namespace rlhfjs).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define RLHFJS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RLHFJS_VECTOR_CLONES
#endif
