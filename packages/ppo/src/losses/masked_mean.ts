import * as tf from '@tensorflow/tfjs';

/**
 * Local stand-in for core's `aggregateLoss(perToken, mask, {mode})`, which will replace it: keep every loss
 * normalisation of this package in this one file.
 * - `token-mean`: Σ x·m / Σ m over the whole batch (TRL's `masked_mean`).
 * - `sequence-mean`: each row's Σ_t x·m / Σ_t m, then the mean over rows (rows without tokens count 0).
 */
export type LossAggregation = 'token-mean' | 'sequence-mean';

/** Σ x·m / Σ m. [B, T] → [] */
export function maskedMean(values: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(values, mask)), tf.maximum(tf.sum(mask), 1e-8)) as tf.Scalar);
}

/** Reduce per-token values [B, T] to a scalar by `aggregation`. */
export function aggregateMasked(values: tf.Tensor2D, mask: tf.Tensor2D, aggregation: LossAggregation): tf.Scalar {
  return tf.tidy(() => {
    switch (aggregation) {
      case 'token-mean':
        return maskedMean(values, mask);
      case 'sequence-mean': {
        const perRow = tf.div(tf.sum(tf.mul(values, mask), 1), tf.maximum(tf.sum(mask, 1), 1)); // [B]
        return tf.mean(perRow) as tf.Scalar;
      }
      default: {
        const unreachable: never = aggregation;
        throw new Error(`aggregateMasked: unknown aggregation ${String(unreachable)}`);
      }
    }
  });
}
