/**
 * Bit-level conversions between float32 and the 16-bit float formats stored in checkpoints:
 * bfloat16 (1 sign, 8 exponent, 7 mantissa bits: the top half of a float32) and IEEE 754 binary16 (1, 5, 10).
 * Arrays hold the raw 16-bit patterns as `Uint16Array` (little-endian when viewed as bytes on every host Node
 * runs on).
 */

/** bfloat16 bit patterns → float32. Exact: every bfloat16 is a float32 with the low 16 bits zero. */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const result = new Float32Array(bits.length);
  const resultBits = new Uint32Array(result.buffer);
  for (let index = 0; index < bits.length; index++) {
    resultBits[index] = (bits[index] as number) << 16;
  }
  return result;
}

/**
 * The NaN pattern PyTorch's vectorized float → bfloat16 conversion (`tensor.to(torch.bfloat16)` on a CPU tensor,
 * ATen `cvtfp32_bf16`) writes for every NaN input; its scalar path writes 0x7FC0 instead. Both are quiet NaNs.
 */
export const BF16_CANONICAL_NAN = 0xffff;

/**
 * float32 → bfloat16 bit patterns with round-to-nearest-even, as `tensor.to(torch.bfloat16)` does: add
 * 0x7FFF plus the lowest kept bit, then drop the low 16 bits. Infinities stay infinite, values that round past
 * the largest finite bfloat16 become infinity, and every NaN becomes the quiet NaN 0xFFFF (what PyTorch writes for whole tensors).
 * `output` (optional) receives the result; it must be at least as long as `values`.
 */
export function float32ToBf16(values: Float32Array, output?: Uint16Array): Uint16Array {
  const result = output ?? new Uint16Array(values.length);
  if (result.length < values.length) {
    throw new RangeError(`float32ToBf16: output holds ${result.length} values, input has ${values.length}`);
  }
  const inputBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let index = 0; index < values.length; index++) {
    const bits = inputBits[index] as number;
    if ((bits & 0x7fffffff) > 0x7f800000) {
      result[index] = BF16_CANONICAL_NAN;
    } else {
      const roundingBias = 0x7fff + ((bits >>> 16) & 1);
      // The sum can exceed 2^32 only for NaN patterns, handled above, so `>>> 16` of the JS number is exact.
      result[index] = (bits + roundingBias) >>> 16;
    }
  }
  return result;
}

const TWO_POW_MINUS_24 = 2 ** -24;

/**
 * IEEE binary16 bit patterns → float32. Exact for every input: normals, subnormals (mantissa × 2^-24),
 * signed zeros, infinities, and NaNs (sign and payload kept, shifted
 * into the float32 mantissa, and quieted as the F16C instruction and PyTorch do).
 */
export function f16ToFloat32(bits: Uint16Array): Float32Array {
  const result = new Float32Array(bits.length);
  const resultBits = new Uint32Array(result.buffer);
  for (let index = 0; index < bits.length; index++) {
    const half = bits[index] as number;
    const sign = (half & 0x8000) << 16;
    const exponent = (half >>> 10) & 0x1f;
    const mantissa = half & 0x3ff;
    if (exponent === 0) {
      // Zero or subnormal: mantissa × 2^-24, exact in float32.
      result[index] = mantissa * TWO_POW_MINUS_24;
      resultBits[index] = ((resultBits[index] as number) | sign) >>> 0;
    } else if (exponent === 0x1f) {
      // Infinity, or NaN: sign and payload kept, quiet bit set (converting a signalling NaN quiets it).
      const quiet = mantissa === 0 ? 0 : 0x00400000;
      resultBits[index] = (sign | 0x7f800000 | quiet | (mantissa << 13)) >>> 0;
    } else {
      // Rebias the exponent from 15 to 127.
      resultBits[index] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
    }
  }
  return result;
}
