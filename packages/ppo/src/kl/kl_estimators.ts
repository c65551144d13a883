import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@rlhfjs/core';

/**
 * Schulman's approximations of KL(π‖π_ref) per token ("Approximating KL divergence", 2020), as OpenRLHF's
 * `compute_approx_kl` and TRL's `kl_estimator` code them. With the log ratio `r = log π − log π_ref`:
 * - `k1`: r (unbiased, high variance, can be negative)
 * - `k2`: r² / 2 (biased, low variance)
 * - `k3`: (e^(−r) − 1) + r (unbiased, low variance, ≥ 0)
 */
export type KlEstimator = 'k1' | 'k2' | 'k3';

export const KL_ESTIMATORS: readonly KlEstimator[] = Object.freeze(['k1', 'k2', 'k3'] as const);

/** Per-token KL estimate [B, T] from the policy's and the reference's log-probs of the sampled tokens. Not masked. */
export function klPerToken(logprobs: tf.Tensor2D, refLogprobs: tf.Tensor2D, estimator: KlEstimator): tf.Tensor2D {
  if (!tf.util.arraysEqual(logprobs.shape, refLogprobs.shape)) {
    throw new ShapeError(
      `klPerToken: logprobs [${logprobs.shape.join(', ')}] and refLogprobs [${refLogprobs.shape.join(', ')}] differ`,
    );
  }
  return tf.tidy((): tf.Tensor2D => {
    const logRatio: tf.Tensor2D = tf.sub(logprobs, refLogprobs); // [B, T]
    switch (estimator) {
      case 'k1':
        return logRatio;
      case 'k2':
        return tf.mul(tf.square(logRatio), 0.5);
      case 'k3':
        return tf.add(tf.sub(tf.exp(tf.neg(logRatio)), 1), logRatio);
      default: {
        const unreachable: never = estimator;
        throw new ShapeError(`klPerToken: unknown estimator ${String(unreachable)}; valid: ${KL_ESTIMATORS.join(', ')}`);
      }
    }
  });
}
