import * as tf from '@tensorflow/tfjs';

import { ConfigError, ShapeError } from '../errors/errors';

export type LossAggregationMode = 'token' | 'sequence';

export interface AggregateLossOptions {
  /**
   * `token`: every real token weighs the same (the mean over all tokens of the global batch).
   * `sequence`: every sequence weighs the same (the mean over sequences of each sequence's token mean).
   */
  mode: LossAggregationMode;
  /** Σ mask over the whole optimizer step: all micro-batches of all ranks. Used in `token` mode. */
  globalTokenCount?: number;
  /**
   * Number of sequences with at least one mask token over the whole optimizer step (all micro-batches of all
   * ranks), as `maskCounts(...).sequences` counts them. Used in `sequence` mode.
   */
  globalSequenceCount?: number;
  /** Number of data-parallel ranks whose gradients the reducer averages. Default 1. */
  worldSize?: number;
}

/**
 * The one place where a per-token loss becomes the scalar that is differentiated.
 *
 * Contract, so that N ranks × batch B equals 1 rank × N·B, and gradient accumulation 4×2 equals 1×8:
 * - the gradient reducer AVERAGES gradients over the `worldSize` ranks (as DDP does);
 * - gradient accumulation SUMS the gradients of the micro-batches of one optimizer step (no division);
 * - the caller passes the GLOBAL count for the mode (summed over every micro-batch of the step on every rank,
 *   e.g. with `reducer.allReduceSum` of `maskCounts` of each micro-batch) and the `worldSize`.
 * Then each micro-batch returns its share of the global mean:
 *   token:    Σ_{b,t} perToken·mask / globalTokenCount × worldSize
 *   sequence: Σ_b (Σ_t perToken·mask / Σ_t mask) / globalSequenceCount × worldSize
 * and summing over micro-batches, then averaging over ranks, gives exactly the gradient of the global mean.
 *
 * Without the global count for the mode, the result is the LOCAL mean of this batch (worldSize must then be 1
 * or absent): the usual per-batch mean, which is not equivalent across different splits.
 *
 * A sequence with no mask tokens contributes 0 and is not counted as a sequence. Positions where the mask is 0
 * do not reach the loss even when `perToken` is NaN or infinite there. The mask may be 0/1 or weights, float or
 * int. A global count of 0 (nothing to learn from anywhere) gives a loss of 0.
 *
 * @param perToken [B, T] per-token loss.
 * @param mask [B, T] 1 for tokens that count, 0 for padding and prompt.
 * @returns a scalar owned by the caller (differentiable with respect to `perToken`).
 */
export function aggregateLoss(perToken: tf.Tensor, mask: tf.Tensor, options: AggregateLossOptions): tf.Scalar {
  if (
    perToken.rank !== 2 ||
    mask.rank !== 2 ||
    perToken.shape[0] !== mask.shape[0] ||
    perToken.shape[1] !== mask.shape[1]
  ) {
    throw new ShapeError(
      `aggregateLoss: perToken has shape [${perToken.shape.join(', ')}], mask has [${mask.shape.join(', ')}]; ` +
        'both must be [B, T]',
    );
  }
  const { mode, worldSize = 1 } = options;
  const globalCount = mode === 'token' ? options.globalTokenCount : options.globalSequenceCount;
  const countName = mode === 'token' ? 'globalTokenCount' : 'globalSequenceCount';
  const problems: string[] = [];
  if (mode !== 'token' && mode !== 'sequence') {
    problems.push(`mode must be "token" or "sequence", got ${JSON.stringify(mode)}`);
  }
  if (!(Number.isInteger(worldSize) && worldSize >= 1)) {
    problems.push(`worldSize must be an integer >= 1, got ${worldSize}`);
  }
  if (globalCount !== undefined && !(Number.isFinite(globalCount) && globalCount >= 0)) {
    problems.push(`${countName} must be a finite number >= 0, got ${globalCount}`);
  }
  if (globalCount === undefined && worldSize !== 1) {
    problems.push(
      `${countName} is required when worldSize is ${worldSize}: a local mean is not equivalent across ranks`,
    );
  }
  if (problems.length > 0) {
    throw new ConfigError('aggregateLoss', problems);
  }

  return tf.tidy(() => {
    const weights = tf.cast(mask, 'float32'); // [B, T]
    const isCounted = tf.notEqual(weights, 0); // [B, T]
    const masked = tf.where(isCounted, tf.mul(perToken, weights), tf.zerosLike(weights)); // [B, T]
    let total: tf.Scalar;
    let localCount: tf.Scalar;
    switch (mode) {
      case 'token': {
        total = tf.sum(masked);
        localCount = tf.sum(weights);
        break;
      }
      case 'sequence': {
        const rowTokens = tf.sum(weights, 1); // [B]
        const hasTokens = tf.notEqual(rowTokens, 0); // [B]
        const safeRowTokens = tf.where(hasTokens, rowTokens, tf.onesLike(rowTokens)); // [B]
        total = tf.sum(tf.div(tf.sum(masked, 1), safeRowTokens)); // Σ_b row mean; empty rows give 0
        localCount = tf.sum(tf.cast(hasTokens, 'float32'));
        break;
      }
      default: {
        const unreachable: never = mode;
        throw new ConfigError('aggregateLoss', [`unknown mode ${JSON.stringify(unreachable)}`]);
      }
    }
    if (globalCount !== undefined) {
      return globalCount > 0 ? tf.mul(total, worldSize / globalCount) : tf.mul(total, 0);
    }
    const safeLocalCount = tf.where(tf.notEqual(localCount, 0), localCount, tf.onesLike(localCount));
    return tf.div(total, safeLocalCount);
  }) as tf.Scalar;
}

/**
 * The counts `aggregateLoss` expects, for one micro-batch: `tokens` = Σ mask, `sequences` = rows with at least
 * one non-zero mask entry. Sum them over micro-batches and ranks to get the global counts. Reads the mask back
 * (one synchronous download).
 *
 * @param mask [B, T]
 */
export function maskCounts(mask: tf.Tensor): {
  tokens: number;
  sequences: number;
} {
  if (mask.rank !== 2) {
    throw new ShapeError(`maskCounts: mask has shape [${mask.shape.join(', ')}], expected [B, T]`);
  }
  const counts = tf.tidy(() => {
    const weights = tf.cast(mask, 'float32'); // [B, T]
    const rowTokens = tf.sum(weights, 1); // [B]
    return tf.stack([tf.sum(weights), tf.sum(tf.cast(tf.notEqual(rowTokens, 0), 'float32'))]); // [2]
  });
  const [tokens, sequences] = counts.dataSync();
  counts.dispose();
  return { tokens: tokens!, sequences: sequences! };
}
