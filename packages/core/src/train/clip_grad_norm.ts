import * as tf from '@tensorflow/tfjs';

import { ConfigError } from '../errors/errors';

export interface ClipGradNormResult {
  /**
   * The gradients to apply. When `clipped` is true these are NEW tensors owned by the caller, and the caller
   * should dispose the input map it passed in. When `clipped` is false this is the very map that was passed in
   * (same object, same tensors): dispose it once, not twice.
   */
  grads: tf.NamedTensorMap;
  /** Global L2 norm of all gradients BEFORE clipping; NaN or Infinity when a gradient is not finite. */
  totalNorm: number;
  /** Whether the gradients were scaled (then `grads` holds new tensors). */
  clipped: boolean;
}

/** Added to the norm before dividing, as `torch.nn.utils.clip_grad_norm_` does. */
const NORM_EPSILON = 1e-6;

/**
 * Scale all gradients together so that their global L2 norm is at most `maxNorm`, like
 * `torch.nn.utils.clip_grad_norm_(parameters, maxNorm)` (norm type 2): `totalNorm = ‖(‖g_1‖, …, ‖g_n‖)‖₂`,
 * `coefficient = maxNorm / (totalNorm + 1e-6)`, and gradients are multiplied by it only when it is below 1.
 *
 * A non-finite norm is returned, not thrown, and the gradients are returned unchanged (torch would multiply them
 * by NaN); the caller decides whether to skip the step or stop with a `TrainingError`.
 *
 * The per-tensor sums of squares are computed by the backend and combined in float64 on the host, with one read.
 */
export function clipGradNorm(grads: tf.NamedTensorMap, maxNorm: number): ClipGradNormResult {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) {
    throw new ConfigError('clipGradNorm', [`maxNorm must be a finite number > 0, got ${maxNorm}`]);
  }
  const names = Object.keys(grads);
  if (names.length === 0) {
    return { grads, totalNorm: 0, clipped: false };
  }
  const squaredNorms = tf.tidy(() => tf.stack(names.map((name) => tf.sum(tf.square(grads[name]!))))); // [n]
  const perTensor = squaredNorms.dataSync();
  squaredNorms.dispose();
  let sumOfSquares = 0;
  for (const value of perTensor) {
    sumOfSquares += value;
  }
  const totalNorm = Math.sqrt(sumOfSquares);
  const coefficient = maxNorm / (totalNorm + NORM_EPSILON);
  if (!Number.isFinite(totalNorm) || coefficient >= 1) {
    return { grads, totalNorm, clipped: false };
  }
  const scaled: tf.NamedTensorMap = {};
  for (const name of names) {
    scaled[name] = tf.tidy(() => tf.mul(grads[name]!, coefficient));
  }
  return { grads: scaled, totalNorm, clipped: true };
}
