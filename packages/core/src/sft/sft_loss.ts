import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../model/causal_lm';
import { tokenLogProbsFromLogits } from '../scoring/sequence_log_probs';
import { aggregateLoss, type LossAggregationMode } from '../train/aggregate_loss';
import type { LossResult } from '../train/train_step';
import type { StepCounts } from '../train/trainer';

/** A padded (or packed) batch as plain arrays, every one [B, T]. */
export interface LanguageModelingBatch {
  inputIds: number[][];
  attentionMask: number[][];
  /** lossMask[b][t] = 1: token t is a target predicted from position t − 1. */
  lossMask: number[][];
  positionIds?: number[][];
  /** Packed rows: attention stays inside each example. */
  segmentIds?: number[][];
}

/**
 * Next-token cross-entropy over the loss-mask tokens of a batch, normalised by `aggregateLoss` with the step's
 * global counts (so accumulation and data parallelism equal one big batch).
 */
export function languageModelingLoss(model: CausalLM, batch: LanguageModelingBatch, counts: StepCounts | null, mode: LossAggregationMode = 'token'): LossResult {
  return tf.tidy(() => {
    const inputIds = tf.tensor2d(batch.inputIds, undefined, 'int32'); // [B, T]
    const [rows, length] = inputIds.shape;
    const { logits, hiddenStates } = model.forward({
      inputIds,
      attentionMask: tf.tensor2d(batch.attentionMask, undefined, 'int32'),
      positionIds: batch.positionIds === undefined ? undefined : tf.tensor2d(batch.positionIds, undefined, 'int32'),
      segmentIds: batch.segmentIds === undefined ? undefined : tf.tensor2d(batch.segmentIds, undefined, 'int32'),
    });
    hiddenStates.dispose();
    const logProbs = tokenLogProbsFromLogits(logits as tf.Tensor3D, inputIds); // [B, T−1]
    const targets = tf.slice(tf.tensor2d(batch.lossMask, undefined, 'float32'), [0, 1], [rows, length - 1]); // [B, T−1]
    const loss = aggregateLoss(tf.neg(logProbs), targets, {
      mode,
      globalTokenCount: counts?.tokens,
      globalSequenceCount: counts?.sequences,
      worldSize: counts?.worldSize,
    });
    return { loss: loss as tf.Scalar };
  }) as unknown as LossResult;
}

/** Loss-carrying tokens and sequences of a batch (targets are positions 1…T−1 of the loss mask). */
export function countLossUnits(lossMasks: readonly (readonly number[])[]): { tokens: number; sequences: number } {
  let tokens = 0;
  let sequences = 0;
  for (const row of lossMasks) {
    let rowTokens = 0;
    for (let t = 1; t < row.length; t++) rowTokens += row[t] as number;
    tokens += rowTokens;
    if (rowTokens > 0) sequences += 1;
  }
  return { tokens, sequences };
}
