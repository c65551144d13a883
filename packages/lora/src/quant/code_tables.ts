// The code tables of bitsandbytes' 4-bit and 8-bit blockwise quantization, as float32 values.
//
// Source followed: bitsandbytes-foundation/bitsandbytes
//   - bitsandbytes/functional.py `get_4bit_type` (NF4 / FP4 16-entry tables) and `create_dynamic_map`
//     (the signed 8-bit dynamic map used for nested "double" quantization of absmax),
//   - csrc/kernels.cu / csrc/cuda/blockwise_quantization.cu `dQuantizeNF4`, `dQuantizeFP4`, `dDequantizeFP4Tree`.
// The values are bnb's numbers; the code is ours.

/** A 4-bit code table: index = the 4-bit code, value = the normalised value it stands for. */
export type FourBitQuantType = 'nf4' | 'fp4';

/**
 * NF4 ("normal float 4", QLoRA paper): 16 quantiles of N(0, 1) normalised to [-1, 1], sorted, so code i is the
 * i-th smallest value. Exactly the float list of bnb's `get_4bit_type('nf4')`, stored as float32.
 */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/**
 * FP4 (1 sign bit, 2 exponent bits, 1 mantissa bit, bias 3, with a subnormal): bnb's `get_4bit_type('fp4')`
 * list [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3] divided by its absmax 12 in float32.
 * Bit 3 is the sign; the table is NOT sorted (code 0b0011 is the largest, 12/12 = 1).
 */
export const FP4_CODE: Float32Array = Float32Array.from(
  [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3].map((value) => Math.fround(value / 12))
);

/** The 16-entry table for a 4-bit type (a fresh copy, so callers cannot corrupt the shared one). */
export function codeTableFor(quantType: FourBitQuantType): Float32Array {
  switch (quantType) {
    case 'nf4':
      return NF4_CODE.slice();
    case 'fp4':
      return FP4_CODE.slice();
    default: {
      const unreachable: never = quantType;
      throw new Error(`codeTableFor: unknown quant type ${String(unreachable)}`);
    }
  }
}

/**
 * Mirrors `torch.linspace(start, end, steps)` for float32 output as PyTorch's CPU kernel computes it
 * (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp `linspace_kernel`), because bnb builds its dynamic map with
 * it: `step = (end - start) / (steps - 1)` in float32; index i < steps/2 gets `start + step * i`, the rest
 * `end - step * (steps - i - 1)`, each a fused multiply-add (one rounding). The vectorised loop handles two
 * vectors of `vectorWidth` lanes at a time (`Vectorized<float>::arange(first, step)`): each vector's first lane
 * is computed as above and lane j as `first + float(j * step)` (two roundings); leftover elements use the scalar
 * formula. vectorWidth 8 is torch's AVX2 CPU build, which produced our fixture (checked bit-exactly against
 * torch 1.13 for every linspace the map uses). Other builds can differ in the last bit of a few entries, which is
 * why nested-quantized state carries its own map (`absmaxCode`, bnb `nested_quant_map`).
 */
export function torchFloat32Linspace(start: number, end: number, steps: number, vectorWidth = 8): Float32Array {
  const out = new Float32Array(steps);
  const startF = Math.fround(start);
  const endF = Math.fround(end);
  const step = Math.fround(Math.fround(endF - startF) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // float32 products of step with small integers are exact in float64, and so are the sums below, so one
  // Math.fround gives the single rounding of a fused multiply-add.
  const scalarAt = (index: number): number =>
    index < halfway ? Math.fround(startF + step * index) : Math.fround(endF - step * (steps - index - 1));
  let index = 0;
  for (; index + 2 * vectorWidth <= steps; index += 2 * vectorWidth) {
    for (const vectorStart of [index, index + vectorWidth]) {
      const first = scalarAt(vectorStart);
      for (let lane = 0; lane < vectorWidth; lane += 1) {
        out[vectorStart + lane] = Math.fround(first + Math.fround(lane * step));
      }
    }
  }
  for (; index < steps; index += 1) out[index] = scalarAt(index);
  return out;
}

let dynamicMapCache: Float32Array | null = null;

/**
 * bnb's `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`: 256 sorted float32 values in
 * [-0.99297, 1]. For exponent i in 0..6 it takes the 2^i midpoints of `linspace(0.1, 1, 2^i + 1)` scaled by
 * 10^(i-6), with both signs, then adds 0 and 1. Used to quantize absmax in nested (double) quantization.
 */
export function createDynamicMap(): Float32Array {
  if (dynamicMapCache === null) {
    const maxExponentBits = 7;
    const values: number[] = [];
    for (let exponent = 0; exponent < maxExponentBits; exponent += 1) {
      const boundaries = torchFloat32Linspace(0.1, 1, 2 ** exponent + 1);
      const scale = Math.fround(10 ** (exponent - (maxExponentBits - 1)));
      for (let index = 0; index + 1 < boundaries.length; index += 1) {
        const mean = Math.fround(Math.fround((boundaries[index] ?? 0) + (boundaries[index + 1] ?? 0)) / 2);
        values.push(Math.fround(scale * mean), Math.fround(-scale * mean));
      }
    }
    values.push(0, 1);
    values.sort((a, b) => a - b);
    dynamicMapCache = Float32Array.from(values);
  }
  return dynamicMapCache.slice();
}
