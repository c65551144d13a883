// bnb's per-value 4-bit quantizers: the decision trees `dQuantizeNF4` and `dQuantizeFP4` from
// bitsandbytes csrc/kernels.cu (same code in csrc/cuda/blockwise_quantization.cu). The input is the value already
// normalised by the block's absmax (a float32 in [-1, 1]); every threshold is a C `float` literal, so it is
// rounded to float32 here too, and every comparison is a strict `>` exactly as in the kernel. Values that sit
// exactly on a threshold therefore go to the LOWER code, and NaN (0 * inf from an all-zero block) fails every
// comparison: NF4 gives code 0b0000, FP4 gives 0b0000.

const f = Math.fround;

// dQuantizeNF4 thresholds (midpoints of adjacent NF4 codes, written in the kernel as float literals).
const NF4_T_0111_1000 = f(0.03979014977812767);
const NF4_T_1011_1100 = f(0.3893125355243683);
const NF4_T_1101_1110 = f(0.6427869200706482);
const NF4_T_1110_1111 = f(0.8614784181118011);
const NF4_T_1100_1101 = f(0.5016634166240692);
const NF4_T_1001_1010 = f(0.2035212516784668);
const NF4_T_1010_1011 = f(0.2920137718319893);
const NF4_T_1000_1001 = f(0.1202552504837513);
const NF4_T_0011_0100 = f(-0.33967943489551544);
const NF4_T_0101_0110 = f(-0.13791173323988914);
const NF4_T_0110_0111 = f(-0.045525018125772476);
const NF4_T_0100_0101 = f(-0.23460740596055984);
const NF4_T_0001_0010 = f(-0.6106329262256622);
const NF4_T_0010_0011 = f(-0.4599952697753906);
const NF4_T_0000_0001 = f(-0.8480964004993439);

/** The NF4 code of one normalised float32 value, as bnb's `dQuantizeNF4`. */
export function quantizeNf4Value(x: number): number {
  if (x > NF4_T_0111_1000) {
    if (x > NF4_T_1011_1100) {
      if (x > NF4_T_1101_1110) return x > NF4_T_1110_1111 ? 0b1111 : 0b1110;
      return x > NF4_T_1100_1101 ? 0b1101 : 0b1100;
    }
    if (x > NF4_T_1001_1010) return x > NF4_T_1010_1011 ? 0b1011 : 0b1010;
    return x > NF4_T_1000_1001 ? 0b1001 : 0b1000;
  }
  if (x > NF4_T_0011_0100) {
    if (x > NF4_T_0101_0110) return x > NF4_T_0110_0111 ? 0b0111 : 0b0110;
    return x > NF4_T_0100_0101 ? 0b0101 : 0b0100;
  }
  if (x > NF4_T_0001_0010) return x > NF4_T_0010_0011 ? 0b0011 : 0b0010;
  return x > NF4_T_0000_0001 ? 0b0001 : 0b0000;
}

// dQuantizeFP4 thresholds on |x| (FP4 magnitudes / 12). Note the kernel writes 0.583333f and 0.8333333f, not
// 7/12 and 10/12: the literals are what decide, so they are kept verbatim.
const FP4_T_0000_0001 = f(0.00260417);
const FP4_T_0001_0110 = f(0.0859375);
const FP4_T_0110_0111 = f(0.20833333);
const FP4_T_0111_0100 = f(0.29166667);
const FP4_T_0100_0101 = f(0.4166667);
const FP4_T_0101_0010 = f(0.583333);
const FP4_T_0010_0011 = f(0.8333333);

/** The FP4 code of one normalised float32 value, as bnb's `dQuantizeFP4` (sign bit 0b1000 for x < 0). */
export function quantizeFp4Value(x: number): number {
  const sign = x < 0 ? 0b1000 : 0b0000;
  const magnitude = Math.abs(x);
  if (magnitude > FP4_T_0111_0100) {
    if (magnitude > FP4_T_0101_0010) return (magnitude > FP4_T_0010_0011 ? 0b0011 : 0b0010) + sign;
    return (magnitude > FP4_T_0100_0101 ? 0b0101 : 0b0100) + sign;
  }
  if (magnitude > FP4_T_0001_0110) return (magnitude > FP4_T_0110_0111 ? 0b0111 : 0b0110) + sign;
  return (magnitude > FP4_T_0000_0001 ? 0b0001 : 0b0000) + sign;
}

/**
 * bnb's 8-bit `dQuantize<STOCHASTIC=0>` (csrc/kernels.cu): a 7-step binary search over a sorted 256-entry code
 * starting at pivot 127, then a round-to-nearest decision against float32 midpoints. Ties at a midpoint go to
 * the pivot the search ended on (which may be the lower or the upper neighbour); reproduced step by step.
 */
export function quantizeDynamicValue(code: Float32Array, x: number): number {
  let pivot = 127;
  let upperPivot = 255;
  let lowerPivot = 0;
  let lower = -1.0;
  let upper = 1.0;
  let value = code[pivot] ?? 0;
  for (let step = 64; step > 0; step >>= 1) {
    if (x > value) {
      lowerPivot = pivot;
      lower = value;
      pivot += step;
    } else {
      upperPivot = pivot;
      upper = value;
      pivot -= step;
    }
    value = code[pivot] ?? 0;
  }
  if (upperPivot === 255) upper = code[upperPivot] ?? 0;
  if (lowerPivot === 0) lower = code[lowerPivot] ?? 0;
  if (x > value) {
    const midpoint = f(f(upper + value) * 0.5);
    return x > midpoint ? upperPivot : pivot;
  }
  const midpoint = f(f(lower + value) * 0.5);
  return x < midpoint ? lowerPivot : pivot;
}
