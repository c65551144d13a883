import * as tf from '@tensorflow/tfjs';
import { aggregateLoss, ConfigError, ShapeError } from '@rlhfjs/core';

/** TRL 1.x `loss_type` values of the GRPO family. */
export type GrpoLossType = 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo';
export const GRPO_LOSS_TYPES: readonly GrpoLossType[] = Object.freeze(['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const);

/** Token-level ratios (GRPO, DAPO) or one ratio per sequence from the mean log-ratio (GSPO, Zheng et al. 2025). */
export type ImportanceSamplingLevel = 'token' | 'sequence';
export const IMPORTANCE_SAMPLING_LEVELS: readonly ImportanceSamplingLevel[] = Object.freeze(['token', 'sequence'] as const);

export interface GrpoLossInputs {
  /** Current policy log-probs of the completion tokens (differentiable). [B, T] */
  readonly perTokenLogps: tf.Tensor2D;
  /** Log-probs at generation time (π_old). [B, T] */
  readonly oldPerTokenLogps: tf.Tensor2D;
  /** Reference log-probs; required when beta > 0. [B, T] */
  readonly refPerTokenLogps?: tf.Tensor2D;
  /** One advantage per completion [B]; or per token [B, T] (REINFORCE++, token level only). */
  readonly advantages: tf.Tensor1D | tf.Tensor2D;
  /** 1 on completion tokens that count (truncated completions may be masked out entirely). [B, T] */
  readonly mask: tf.Tensor2D;
}

export interface GrpoLossOptions {
  readonly lossType: GrpoLossType;
  readonly importanceSamplingLevel: ImportanceSamplingLevel;
  /** Weight of the k3 KL to the reference added per token. */
  readonly beta: number;
  readonly epsilonLow: number;
  /** ε_high > ε_low is DAPO's clip-higher. */
  readonly epsilonHigh: number;
  /** Two-sided clipping: the unclipped ratio is clamped at δ (> 1; TRL recommends > 1 + ε_high) as well. Default: off. */
  readonly delta?: number;
  /** The `dr_grpo` denominator is B × this. */
  readonly maxCompletionLength: number;
  /**
   * `dapo`: Σ mask over the WHOLE generation batch on every rank (TRL `num_items_in_batch`); default this batch's
   * own Σ mask. The loss is Σ/(numItemsInBatch / worldSize), so that averaging gradients over ranks gives the
   * global token mean.
   */
  readonly numItemsInBatch?: number;
  /** Ranks whose gradients are averaged (`dapo` only). Default 1. */
  readonly worldSize?: number;
}

export interface GrpoLossMetrics {
  /** Masked mean of the k3 KL (only when beta ≠ 0, as TRL logs it). */
  readonly kl?: number;
  readonly 'clip_ratio/low_mean': number;
  readonly 'clip_ratio/high_mean': number;
  readonly 'clip_ratio/region_mean': number;
}

export interface GrpoLossResult {
  readonly loss: tf.Scalar;
  readonly metrics: GrpoLossMetrics;
}

function shapeText(tensor: tf.Tensor): string {
  return `[${tensor.shape.join(', ')}]`;
}

/**
 * The GRPO loss family with TRL 1.x semantics (`GRPOTrainer._compute_loss`):
 * - log-ratio `log π − log π_old` per token, or its masked mean per sequence (GSPO) broadcast over the tokens;
 * - `ρ = exp(·)`, `ρ_clip = clip(ρ, 1 − ε_low, 1 + ε_high)`, with δ the unclipped ρ is clamped at δ;
 * - per-token loss `−min(ρ·A, ρ_clip·A) + β·KL_k3`, `KL_k3 = e^(ref − logp) − (ref − logp) − 1`;
 * - normalisation: grpo = mean over sequences of each sequence's token mean; bnpo = token mean of this batch;
 *   dr_grpo = Σ / (B · maxCompletionLength); dapo = Σ / (numItemsInBatch / worldSize). All through core's
 *   `aggregateLoss`.
 * Metrics: clip fractions `(ρ < 1 − ε_low) ∧ (A < 0)`, `(ρ > 1 + ε_high) ∧ (A > 0)` and their union, averaged over
 * the masked tokens (token level) or over sequences (sequence level); `kl` when β ≠ 0. Pure; differentiable in
 * `perTokenLogps`.
 */
export function grpoLoss(inputs: GrpoLossInputs, options: GrpoLossOptions): GrpoLossResult {
  const { perTokenLogps, oldPerTokenLogps, refPerTokenLogps, advantages, mask } = inputs;
  const { lossType, importanceSamplingLevel, beta, epsilonLow, epsilonHigh, delta, maxCompletionLength } = options;
  const worldSize = options.worldSize ?? 1;
  const problems: string[] = [];
  if (!GRPO_LOSS_TYPES.includes(lossType)) problems.push(`lossType must be one of ${GRPO_LOSS_TYPES.join(', ')}, got ${String(lossType)}`);
  if (!IMPORTANCE_SAMPLING_LEVELS.includes(importanceSamplingLevel)) problems.push(`importanceSamplingLevel must be one of ${IMPORTANCE_SAMPLING_LEVELS.join(', ')}, got ${String(importanceSamplingLevel)}`);
  if (!(Number.isFinite(beta) && beta >= 0)) problems.push(`beta must be a finite number >= 0, got ${beta}`);
  if (!(epsilonLow > 0 && epsilonLow < 1)) problems.push(`epsilonLow must be in (0, 1), got ${epsilonLow}`);
  if (!(epsilonHigh > 0)) problems.push(`epsilonHigh must be > 0, got ${epsilonHigh}`);
  if (delta !== undefined && !(Number.isFinite(delta) && delta > 1)) problems.push(`delta must be a finite number > 1, got ${delta}`);
  if (!(Number.isInteger(maxCompletionLength) && maxCompletionLength > 0)) problems.push(`maxCompletionLength must be a positive integer, got ${maxCompletionLength}`);
  if (options.numItemsInBatch !== undefined && !(Number.isFinite(options.numItemsInBatch) && options.numItemsInBatch >= 0)) problems.push(`numItemsInBatch must be a finite number >= 0, got ${options.numItemsInBatch}`);
  if (!(Number.isInteger(worldSize) && worldSize >= 1)) problems.push(`worldSize must be an integer >= 1, got ${worldSize}`);
  if (beta > 0 && refPerTokenLogps === undefined) problems.push('beta > 0 needs inputs.refPerTokenLogps');
  if (problems.length > 0) throw new ConfigError('grpoLoss', problems);
  if (perTokenLogps.rank !== 2) throw new ShapeError(`grpoLoss: perTokenLogps must be [B, T], got ${shapeText(perTokenLogps)}`);
  const rows = perTokenLogps.shape[0];
  for (const [name, tensor] of [['oldPerTokenLogps', oldPerTokenLogps], ['mask', mask], ['refPerTokenLogps', refPerTokenLogps]] as const) {
    if (tensor !== undefined && !tf.util.arraysEqual(tensor.shape, perTokenLogps.shape)) {
      throw new ShapeError(`grpoLoss: ${name} ${shapeText(tensor)} differs from perTokenLogps ${shapeText(perTokenLogps)}`);
    }
  }
  const perTokenAdvantages = advantages.rank === 2 && tf.util.arraysEqual(advantages.shape, perTokenLogps.shape);
  if (!((advantages.rank === 1 && advantages.shape[0] === rows) || (perTokenAdvantages && importanceSamplingLevel === 'token'))) {
    throw new ShapeError(`grpoLoss: advantages ${shapeText(advantages)} must be [${rows}] (one per row of perTokenLogps ${shapeText(perTokenLogps)}), or [B, T] like it with importanceSamplingLevel 'token'`);
  }

  const numbers: Record<string, number> = {};
  const loss = tf.tidy(() => {
    const weights = tf.cast(mask, 'float32'); // [B, T]
    const tokenCount = tf.maximum(tf.sum(weights), 1); // []
    const logRatio = tf.sub(perTokenLogps, oldPerTokenLogps); // [B, T]
    const logWeights = importanceSamplingLevel === 'token'
      ? logRatio
      : tf.div(tf.sum(tf.mul(logRatio, weights), 1, true), tf.maximum(tf.sum(weights, 1, true), 1)); // [B, 1]
    const ratio = tf.exp(logWeights); // [B, T] or [B, 1]
    const clippedRatio = tf.clipByValue(ratio, 1 - epsilonLow, 1 + epsilonHigh);
    const mainRatio = delta === undefined ? ratio : tf.minimum(ratio, delta);
    const advantageColumn = perTokenAdvantages ? advantages : tf.reshape(advantages, [rows, 1]); // [B, T] or [B, 1]
    const surrogate = tf.neg(tf.minimum(tf.mul(mainRatio, advantageColumn), tf.mul(clippedRatio, advantageColumn)));
    let perToken = tf.mul(surrogate, tf.onesLike(weights)); // [B, T] (a sequence-level loss broadcast over its tokens)
    const batchMean = (values: tf.Tensor): number =>
      (values.shape[1] === 1 ? tf.mean(values) : tf.div(tf.sum(tf.mul(values, weights)), tokenCount)).dataSync()[0] as number;
    if (beta !== 0) {
      const refMinusPolicy = tf.sub(refPerTokenLogps as tf.Tensor2D, perTokenLogps); // [B, T]
      const kl = tf.sub(tf.sub(tf.exp(refMinusPolicy), refMinusPolicy), 1); // [B, T]
      numbers.kl = batchMean(kl);
      perToken = tf.add(perToken, tf.mul(kl, beta));
    }
    const isLow = tf.logicalAnd(tf.less(mainRatio, 1 - epsilonLow), tf.less(advantageColumn, 0));
    const isHigh = tf.logicalAnd(tf.greater(mainRatio, 1 + epsilonHigh), tf.greater(advantageColumn, 0));
    numbers['clip_ratio/low_mean'] = batchMean(tf.cast(isLow, 'float32'));
    numbers['clip_ratio/high_mean'] = batchMean(tf.cast(isHigh, 'float32'));
    numbers['clip_ratio/region_mean'] = batchMean(tf.cast(tf.logicalOr(isLow, isHigh), 'float32'));
    switch (lossType) {
      case 'grpo': // TRL: mean over the B rows of each row's token mean (a row without tokens counts as 0)
        return aggregateLoss(perToken, weights, { mode: 'sequence', globalSequenceCount: rows });
      case 'bnpo':
        return aggregateLoss(perToken, weights, { mode: 'token' });
      case 'dr_grpo':
        return aggregateLoss(perToken, weights, { mode: 'token', globalTokenCount: rows * maxCompletionLength });
      case 'dapo':
        return aggregateLoss(perToken, weights, {
          mode: 'token', globalTokenCount: options.numItemsInBatch ?? (tf.sum(weights).dataSync()[0] as number), worldSize,
        });
      default: {
        const unreachable: never = lossType;
        throw new ConfigError('grpoLoss', [`unknown lossType ${String(unreachable)}`]);
      }
    }
  });
  const metrics: GrpoLossMetrics = {
    ...(numbers.kl === undefined ? {} : { kl: numbers.kl }),
    'clip_ratio/low_mean': numbers['clip_ratio/low_mean'] as number,
    'clip_ratio/high_mean': numbers['clip_ratio/high_mean'] as number,
    'clip_ratio/region_mean': numbers['clip_ratio/region_mean'] as number,
  };
  return { loss, metrics: Object.freeze(metrics) };
}
