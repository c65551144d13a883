import * as tf from '@tensorflow/tfjs';
import { aggregateLoss } from '@rlhfjs/core';

/**
 * The loss normalisations of this package, both delegated to core's `aggregateLoss` (the one place where loss
 * normalisation lives):
 * - `token-mean`: Σ x·m / Σ m over the whole batch (TRL's `masked_mean`);
 * - `sequence-mean`: each row's Σ_t x·m / Σ_t m, then the mean over rows with tokens.
 */
export type LossAggregation = 'token-mean' | 'sequence-mean';

/**
 * Global counts for data parallelism (see `aggregateLoss`): with them each rank returns its share of the GLOBAL
 * mean, so that averaging gradients over `worldSize` ranks equals one process on the concatenated batch.
 */
export interface LossCounts {
  /** Σ mask over the minibatch on every rank (`token-mean`). */
  readonly globalTokenCount?: number;
  /** Rows with at least one token over the minibatch on every rank (`sequence-mean`). */
  readonly globalSequenceCount?: number;
  /** Default 1. */
  readonly worldSize?: number;
}

/** Σ x·m / Σ m (0 for an empty mask). [B, T] → [] */
export function maskedMean(values: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return aggregateLoss(values, mask, { mode: 'token' });
}

/** Reduce per-token values [B, T] to a scalar by `aggregation` (local mean, or the rank's share of the global one). */
export function aggregateMasked(values: tf.Tensor2D, mask: tf.Tensor2D, aggregation: LossAggregation, counts: LossCounts = {}): tf.Scalar {
  const worldSize = counts.worldSize ?? 1;
  switch (aggregation) {
    case 'token-mean':
      return aggregateLoss(values, mask, { mode: 'token', worldSize, ...(counts.globalTokenCount === undefined ? {} : { globalTokenCount: counts.globalTokenCount }) });
    case 'sequence-mean':
      return aggregateLoss(values, mask, { mode: 'sequence', worldSize, ...(counts.globalSequenceCount === undefined ? {} : { globalSequenceCount: counts.globalSequenceCount }) });
    default: {
      const unreachable: never = aggregation;
      throw new Error(`aggregateMasked: unknown aggregation ${String(unreachable)}`);
    }
  }
}
