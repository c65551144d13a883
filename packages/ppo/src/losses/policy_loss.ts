import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import { entropyFromLogits } from './entropy';
import { aggregateMasked, maskedMean, type LossAggregation, type LossCounts } from './masked_mean';

export interface PolicyLossInputs {
  /** Current policy log-probs of the sampled tokens (differentiable). [B, T] */
  readonly logprobs: tf.Tensor2D;
  /** Log-probs at sampling time. [B, T] */
  readonly oldLogprobs: tf.Tensor2D;
  readonly advantages: tf.Tensor2D; // [B, T]
  readonly mask: tf.Tensor2D; // [B, T]
  /** Optional logits, for the entropy metric and bonus. [B, T, V] */
  readonly logits?: tf.Tensor3D;
}

export interface PolicyLossOptions {
  /** PPO ε; default 0.2. */
  readonly clipRange?: number;
  /** Dual-clip constant c > 1 (Ye et al. 2020, as OpenRLHF `PolicyLoss`); default off. */
  readonly dualClip?: number;
  /** Default 'token-mean'. */
  readonly aggregation?: LossAggregation;
  /** Global counts across ranks (data parallel); default: the local mean. */
  readonly counts?: LossCounts;
  /** Entropy bonus: loss −= coef · mean entropy (needs `logits`); default 0. */
  readonly entropyCoef?: number;
}

export interface PolicyLossMetrics {
  /** 0.5 · masked mean((log π − log π_old)²), TRL's `approxkl`. */
  readonly approxKl: number;
  /** Fraction of tokens where the clipped surrogate is the active one (TRL `pg_clipfrac`). */
  readonly clipFrac: number;
  /** Fraction of tokens where the dual clip bound is active (0 without dualClip). */
  readonly dualClipFrac: number;
  /** Masked mean of the ratio π/π_old. */
  readonly ratioMean: number;
  /** Masked mean per-token entropy, when logits were given. */
  readonly entropy?: number;
}

export interface PolicyLossResult {
  readonly loss: tf.Scalar;
  readonly metrics: PolicyLossMetrics;
}

/**
 * PPO clipped surrogate (Schulman et al. 2017) as TRL's PPOTrainer codes it:
 * `max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε))` per token, ρ = exp(log π − log π_old); with `dualClip` c, tokens with A < 0
 * take `min(that, −c·A)` (OpenRLHF `PolicyLoss`). Aggregated over the mask.
 */
export function policyLoss(inputs: PolicyLossInputs, options: PolicyLossOptions = {}): PolicyLossResult {
  const { logprobs, oldLogprobs, advantages, mask } = inputs;
  const clipRange = options.clipRange ?? 0.2;
  const aggregation = options.aggregation ?? 'token-mean';
  const entropyCoef = options.entropyCoef ?? 0;
  const problems: string[] = [];
  if (!(clipRange > 0)) problems.push(`clipRange must be > 0, got ${clipRange}`);
  if (options.dualClip !== undefined && !(options.dualClip > 1)) problems.push(`dualClip must be > 1, got ${options.dualClip}`);
  if (entropyCoef !== 0 && inputs.logits === undefined) problems.push('entropyCoef needs inputs.logits');
  if (problems.length > 0) throw new ConfigError('policyLoss', problems);
  for (const [name, tensor] of [
    ['oldLogprobs', oldLogprobs],
    ['advantages', advantages],
    ['mask', mask],
  ] as const) {
    if (!tf.util.arraysEqual(tensor.shape, logprobs.shape)) {
      throw new ShapeError(`policyLoss: ${name} [${tensor.shape.join(', ')}] differs from logprobs [${logprobs.shape.join(', ')}]`);
    }
  }

  const numbers: Record<string, number> = {};
  const read = (name: string, scalar: tf.Scalar): void => {
    numbers[name] = scalar.dataSync()[0] as number;
  };
  const loss = tf.tidy(() => {
    const logRatio = tf.sub(logprobs, oldLogprobs); // [B, T]
    const ratio = tf.exp(logRatio); // [B, T]
    const unclipped = tf.mul(tf.neg(advantages), ratio); // [B, T]
    const clipped = tf.mul(tf.neg(advantages), tf.clipByValue(ratio, 1 - clipRange, 1 + clipRange)); // [B, T]
    let perToken = tf.maximum(unclipped, clipped); // [B, T]
    read('clipFrac', maskedMean(tf.cast(tf.greater(clipped, unclipped), 'float32'), mask));
    if (options.dualClip !== undefined) {
      const dualBound = tf.mul(advantages, -options.dualClip); // [B, T]
      const negative = tf.less(advantages, 0); // [B, T]
      read('dualClipFrac', maskedMean(tf.cast(tf.logicalAnd(negative, tf.greater(perToken, dualBound)), 'float32'), mask));
      perToken = tf.where(negative, tf.minimum(perToken, dualBound), perToken);
    } else {
      numbers.dualClipFrac = 0;
    }
    read('approxKl', tf.mul(maskedMean(tf.square(logRatio), mask), 0.5));
    read('ratioMean', maskedMean(ratio, mask));
    let total = aggregateMasked(perToken as tf.Tensor2D, mask, aggregation, options.counts);
    if (inputs.logits !== undefined) {
      const entropy = aggregateMasked(entropyFromLogits(inputs.logits, mask), mask, aggregation);
      read('entropy', entropy);
      if (entropyCoef !== 0) total = tf.sub(total, tf.mul(entropy, entropyCoef));
    }
    return total;
  });
  const metrics: PolicyLossMetrics = {
    approxKl: numbers.approxKl as number,
    clipFrac: numbers.clipFrac as number,
    dualClipFrac: numbers.dualClipFrac as number,
    ratioMean: numbers.ratioMean as number,
    ...(numbers.entropy === undefined ? {} : { entropy: numbers.entropy }),
  };
  return { loss, metrics: Object.freeze(metrics) };
}
