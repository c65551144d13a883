import * as tf from '@tensorflow/tfjs';
import { aggregateLoss, ConfigError, ShapeError } from '@rlhfjs/core';

/**
 * The pairwise (Bradley–Terry) reward loss as TRL's RewardTrainer defines it (trl/trainer/reward_trainer.py,
 * `compute_loss`, TRL main ≈ v1.0; same formula since v0.8):
 *
 *   loss = mean_i −log σ(r_c,i − r_r,i − margin_i)  +  centerRewardsCoefficient · mean_i (r_c,i + r_r,i)²
 *
 * The first term is computed as softplus(−(r_c − r_r − margin)), which is stable for large |x|. The centering term
 * (Eisenstein et al. 2023, "Helping or Herding?") is added only when a coefficient is given.
 */
export interface PairwiseRewardInputs {
  /** Rewards of the chosen completions [B]. */
  chosen: tf.Tensor1D;
  /** Rewards of the rejected completions [B]. */
  rejected: tf.Tensor1D;
  /** Per-pair margin [B] (a number applies to every pair); none when omitted. */
  margin?: tf.Tensor1D | number;
}

export interface PairwiseRewardLossOptions {
  /** TRL's `center_rewards_coefficient`; null/undefined = no centering term. */
  centerRewardsCoefficient?: number | null;
  /**
   * Pairs in the whole optimizer step (all micro-batches of all ranks) and the number of ranks, passed to core's
   * `aggregateLoss` so that accumulation and data parallelism equal one big batch. Absent: the mean over these pairs.
   */
  globalPairCount?: number;
  worldSize?: number;
}

export interface PairwiseRewardMetrics {
  /** Share of pairs with r_c > r_r (ties count 0, as TRL's compute_loss logs it). */
  accuracy: number;
  /** mean(r_c − r_r), without the margin. */
  margin: number;
  'rewards/chosen': number;
  'rewards/rejected': number;
}

export interface PairwiseRewardLossResult {
  /** Scalar, differentiable with respect to the rewards. */
  loss: tf.Scalar;
  metrics: PairwiseRewardMetrics;
}

export function pairwiseRewardLoss(inputs: PairwiseRewardInputs, options: PairwiseRewardLossOptions = {}): PairwiseRewardLossResult {
  const { chosen, rejected, margin } = inputs;
  const coefficient = options.centerRewardsCoefficient ?? null;
  if (coefficient !== null && !(Number.isFinite(coefficient) && coefficient >= 0)) {
    throw new ConfigError('pairwiseRewardLoss', [`centerRewardsCoefficient must be a finite number >= 0 or null, got ${coefficient}`]);
  }
  if (chosen.rank !== 1 || rejected.rank !== 1 || chosen.shape[0] !== rejected.shape[0]) {
    throw new ShapeError(`pairwiseRewardLoss: chosen [${chosen.shape}] and rejected [${rejected.shape}] must both be [B]`);
  }
  if (chosen.shape[0] === 0) throw new ShapeError('pairwiseRewardLoss: no pairs (B = 0)');
  if (typeof margin === 'number' && !Number.isFinite(margin)) {
    throw new ShapeError(`pairwiseRewardLoss: margin must be a finite number or [${chosen.shape[0]}], got ${margin}`);
  }
  if (typeof margin === 'object' && (margin.rank !== 1 || margin.shape[0] !== chosen.shape[0])) {
    throw new ShapeError(`pairwiseRewardLoss: margin must be a finite number or [${chosen.shape[0]}], got [${margin.shape}]`);
  }
  const loss = tf.tidy(() => {
    const difference = tf.sub(chosen, rejected); // [B]
    const shifted = margin === undefined ? difference : tf.sub(difference, margin); // [B]
    let perPair = tf.softplus(tf.neg(shifted)); // −log σ(x) = softplus(−x) [B]
    if (coefficient !== null) perPair = tf.add(perPair, tf.mul(coefficient, tf.square(tf.add(chosen, rejected)))); // [B]
    // One pair is one "sequence" of one token: core's aggregateLoss gives the (global) mean over pairs.
    const perPairColumn = tf.expandDims(perPair, 1); // [B, 1]
    return aggregateLoss(perPairColumn, tf.ones(perPairColumn.shape), { mode: 'sequence', globalSequenceCount: options.globalPairCount, worldSize: options.worldSize });
  });
  return { loss, metrics: pairwiseRewardMetrics(chosen.dataSync(), rejected.dataSync()) };
}

/** accuracy (strict r_c > r_r), mean margin and mean rewards of a batch of pairs, as plain numbers. */
export function pairwiseRewardMetrics(chosen: ArrayLike<number>, rejected: ArrayLike<number>): PairwiseRewardMetrics {
  let correct = 0;
  let chosenSum = 0;
  let rejectedSum = 0;
  for (let index = 0; index < chosen.length; index++) {
    const c = chosen[index] as number;
    const r = rejected[index] as number;
    if (c > r) correct += 1;
    chosenSum += c;
    rejectedSum += r;
  }
  const count = chosen.length;
  return {
    accuracy: correct / count,
    margin: (chosenSum - rejectedSum) / count,
    'rewards/chosen': chosenSum / count,
    'rewards/rejected': rejectedSum / count,
  };
}
