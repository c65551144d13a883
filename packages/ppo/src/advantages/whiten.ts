import * as tf from '@tensorflow/tfjs';
import { IdentityReducer, ShapeError, type GradientReducer } from '@rlhfjs/core';

export interface MaskedWhitenOptions {
  /** Default true. When false the mean is added back (TRL `shift_mean=False`, used for rewards). */
  readonly shiftMean?: boolean;
  /** Sums the statistics over all ranks; default `IdentityReducer` (one process). */
  readonly reducer?: GradientReducer;
}

/**
 * TRL's `masked_whiten` over the global batch: mean and unbiased variance (TRL `masked_var(unbiased=True)`) of
 * the masked entries of every rank, from one `allReduceSum([sum, sumOfSquares, count])`, then
 * `(x − mean) · rsqrt(var + 1e-8)` (+ mean when `shiftMean` is false). Entries outside the mask come out 0.
 * Returns a new tensor; statistics are plain float64 numbers (whitening is applied to data, not differentiated).
 */
export async function maskedWhiten(
  values: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: MaskedWhitenOptions = {},
): Promise<tf.Tensor2D> {
  if (!tf.util.arraysEqual(values.shape, mask.shape)) {
    throw new ShapeError(`maskedWhiten: values [${values.shape.join(', ')}] and mask [${mask.shape.join(', ')}] differ`);
  }
  const reducer = options.reducer ?? new IdentityReducer();
  const data = values.dataSync();
  const maskData = mask.dataSync();
  let sum = 0;
  let sumOfSquares = 0;
  let count = 0;
  for (let index = 0; index < data.length; index += 1) {
    const weight = maskData[index] as number;
    if (weight === 0) continue;
    const value = data[index] as number;
    sum += weight * value;
    sumOfSquares += weight * value * value;
    count += weight;
  }
  const [globalSum, globalSumOfSquares, globalCount] = (await reducer.allReduceSum([sum, sumOfSquares, count])) as [
    number,
    number,
    number,
  ];
  if (!(globalCount > 1)) {
    throw new ShapeError(`maskedWhiten: the unbiased variance needs at least 2 masked entries over all ranks, got ${globalCount}`);
  }
  const mean = globalSum / globalCount;
  const variance = Math.max(globalSumOfSquares - globalCount * mean * mean, 0) / (globalCount - 1);
  const scale = 1 / Math.sqrt(variance + 1e-8);
  const shiftMean = options.shiftMean ?? true;
  return tf.tidy(() => {
    let whitened = tf.mul(tf.sub(values, mean), scale); // [B, T]
    if (!shiftMean) whitened = tf.add(whitened, mean);
    return tf.mul(whitened, mask) as tf.Tensor2D; // [B, T]
  });
}
