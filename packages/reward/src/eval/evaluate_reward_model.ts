import * as tf from '@tensorflow/tfjs';
import { ConfigError, padSequences, type PaddingSide } from '@rlhfjs/core';
import type { TokenizedPair } from '../data/preference_pairs';
import type { RewardModel } from '../model/reward_model';

export interface EvaluateRewardModelOptions {
  /** Pairs per forward pass (each pass scores 2 × batchSize sequences; default 16). */
  batchSize?: number;
  /** Default 'right'; the reward is read at the last real token either way. */
  paddingSide?: PaddingSide;
  /** Pad id for the batches (default the model's pad token, else 0; padded positions are masked). */
  padTokenId?: number;
}

export interface RewardEvaluation {
  /**
   * Share of non-tied pairs with r_c > r_r. As TRL's `compute_accuracy` (trl/trainer/utils.py, v0.9–v0.2x), pairs whose
   * two rewards are exactly equal are left out of the accuracy (and counted in `ties`, with a warning); NaN when
   * every pair ties.
   */
  accuracy: number;
  /** mean(r_c − r_r) over all pairs. */
  meanMargin: number;
  meanChosen: number;
  meanRejected: number;
  /** Pairs scored. */
  count: number;
  /** Pairs with r_c == r_r. */
  ties: number;
}

/** Scores held-out pairs (no gradients) and reports accuracy and mean rewards. */
export async function evaluateRewardModel(model: RewardModel, pairs: readonly TokenizedPair[], options: EvaluateRewardModelOptions = {}): Promise<RewardEvaluation> {
  const batchSize = options.batchSize ?? 16;
  if (!(Number.isSafeInteger(batchSize) && batchSize > 0)) throw new ConfigError('evaluateRewardModel', [`batchSize must be a positive integer, got ${batchSize}`]);
  if (pairs.length === 0) throw new ConfigError('evaluateRewardModel', ['no pairs to evaluate']);
  const padTokenId = options.padTokenId ?? model.padTokenId ?? 0;
  let correct = 0;
  let ties = 0;
  let chosenSum = 0;
  let rejectedSum = 0;
  for (let start = 0; start < pairs.length; start += batchSize) {
    const batch = pairs.slice(start, start + batchSize);
    const sequences = [...batch.map((pair) => pair.chosenIds), ...batch.map((pair) => pair.rejectedIds)];
    const encoded = padSequences(sequences, padTokenId, options.paddingSide ?? 'right');
    const rewards = tf.tidy(() => model.rewards(tf.tensor2d(encoded.inputIds, undefined, 'int32'), tf.tensor2d(encoded.attentionMask, undefined, 'int32'))); // [2B]
    const values = await rewards.data();
    rewards.dispose();
    for (let index = 0; index < batch.length; index++) {
      const chosen = values[index] as number;
      const rejected = values[batch.length + index] as number;
      if (chosen === rejected) ties += 1;
      else if (chosen > rejected) correct += 1;
      chosenSum += chosen;
      rejectedSum += rejected;
    }
  }
  if (ties > 0) {
    console.warn(`evaluateRewardModel: ${ties} of ${pairs.length} pairs have equal rewards for both sides; they are left out of the accuracy (as TRL does)`);
  }
  const count = pairs.length;
  return {
    accuracy: ties === count ? Number.NaN : correct / (count - ties),
    meanMargin: (chosenSum - rejectedSum) / count,
    meanChosen: chosenSum / count,
    meanRejected: rejectedSum / count,
    count,
    ties,
  };
}
