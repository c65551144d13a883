import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import { aggregateMasked, maskedMean, type LossAggregation, type LossCounts } from './masked_mean';

export interface ValueLossInputs {
  /** Current value predictions (differentiable). [B, T] */
  readonly values: tf.Tensor2D;
  /** Values at rollout time. [B, T] */
  readonly oldValues: tf.Tensor2D;
  /** GAE returns (targets). [B, T] */
  readonly returns: tf.Tensor2D;
  readonly mask: tf.Tensor2D; // [B, T]
}

export interface ValueLossOptions {
  /** Default 0.2 (TRL `cliprange_value`). */
  readonly clipRangeValue?: number;
  /** Default 'token-mean'. */
  readonly aggregation?: LossAggregation;
  /** Global counts across ranks (data parallel); default: the local mean. */
  readonly counts?: LossCounts;
}

export interface ValueLossMetrics {
  /** Fraction of tokens where the clipped error is the larger (TRL `vf_clipfrac`). */
  readonly clipFrac: number;
  /** Masked mean of the value predictions. */
  readonly valueMean: number;
  /** Masked mean squared error without clipping. */
  readonly meanSquaredError: number;
}

export interface ValueLossResult {
  readonly loss: tf.Scalar;
  readonly metrics: ValueLossMetrics;
}

/**
 * Clipped value loss, as TRL's PPOTrainer codes it:
 * `0.5 · mean(max((v − R)², (clip(v, v_old − c, v_old + c) − R)²))` over the mask.
 */
export function valueLoss(inputs: ValueLossInputs, options: ValueLossOptions = {}): ValueLossResult {
  const { values, oldValues, returns, mask } = inputs;
  const clipRangeValue = options.clipRangeValue ?? 0.2;
  const aggregation = options.aggregation ?? 'token-mean';
  if (!(clipRangeValue > 0)) throw new ConfigError('valueLoss', [`clipRangeValue must be > 0, got ${clipRangeValue}`]);
  for (const [name, tensor] of [
    ['oldValues', oldValues],
    ['returns', returns],
    ['mask', mask],
  ] as const) {
    if (!tf.util.arraysEqual(tensor.shape, values.shape)) {
      throw new ShapeError(`valueLoss: ${name} [${tensor.shape.join(', ')}] differs from values [${values.shape.join(', ')}]`);
    }
  }
  const numbers: Record<string, number> = {};
  const read = (name: string, scalar: tf.Scalar): void => {
    numbers[name] = scalar.dataSync()[0] as number;
  };
  const loss = tf.tidy(() => {
    const clippedValues = tf.minimum(tf.maximum(values, tf.sub(oldValues, clipRangeValue)), tf.add(oldValues, clipRangeValue)); // [B, T]
    const unclippedError = tf.square(tf.sub(values, returns)); // [B, T]
    const clippedError = tf.square(tf.sub(clippedValues, returns)); // [B, T]
    read('clipFrac', maskedMean(tf.cast(tf.greater(clippedError, unclippedError), 'float32'), mask));
    read('valueMean', maskedMean(values, mask));
    read('meanSquaredError', maskedMean(unclippedError, mask));
    return tf.mul(aggregateMasked(tf.maximum(unclippedError, clippedError) as tf.Tensor2D, mask, aggregation, options.counts), 0.5) as tf.Scalar;
  });
  return {
    loss,
    metrics: Object.freeze({
      clipFrac: numbers.clipFrac as number,
      valueMean: numbers.valueMean as number,
      meanSquaredError: numbers.meanSquaredError as number,
    }),
  };
}
