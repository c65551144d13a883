import * as tf from '@tensorflow/tfjs';
import { collatePreferencePairs, type CausalLM, type CollatedPreferencePairs, tokenLogProbsFromLogits, sumMaskedLogProbs } from '@rlhfjs/core';

/** One tokenized preference pair, as the DPO trainer keeps it. */
export interface DpoExample {
  /** Position in its dataset (keys the precomputed reference log-probs). */
  readonly index: number;
  readonly promptIds: readonly number[];
  readonly chosenIds: readonly number[];
  readonly rejectedIds: readonly number[];
}

/**
 * B pairs as one right-padded [2B, T] batch: rows 0…B−1 are prompt + chosen, rows B…2B−1 prompt + rejected.
 * `lossMask[r][t] = 1` where token t belongs to the completion (a target predicted from position t − 1).
 * Core's collated preference pairs, shared with the reward model.
 */
export type ConcatenatedPreferenceBatch = CollatedPreferencePairs;

/** Core's `collatePreferencePairs`, right-padded. */
export function collatePreferenceBatch(examples: readonly DpoExample[], padTokenId: number): ConcatenatedPreferenceBatch {
  return collatePreferencePairs(examples, { padTokenId, paddingSide: 'right' });
}

/** What one concatenated forward pass gives: summed completion log-probs and mean completion logits. */
export interface ConcatenatedForwardOutputs {
  readonly chosenLogps: tf.Tensor1D; // [B]
  readonly rejectedLogps: tf.Tensor1D; // [B]
  /** Mean over completion tokens (and the vocabulary) of the logits, as TRL's `logits/chosen`. [] */
  readonly chosenMeanLogits: tf.Scalar;
  readonly rejectedMeanLogits: tf.Scalar;
}

/**
 * Scores chosen and rejected completions in ONE forward pass over the [2B, T] batch. Call inside `tf.tidy` (or a
 * gradient scope): the outputs are ordinary tensors of the current scope.
 */
export function concatenatedForward(model: CausalLM, batch: ConcatenatedPreferenceBatch): ConcatenatedForwardOutputs {
  const pairs = batch.pairCount;
  const inputIds = tf.tensor2d(batch.inputIds, undefined, 'int32'); // [2B, T]
  const [rows, length] = inputIds.shape;
  const outputs = model.forward({ inputIds, attentionMask: tf.tensor2d(batch.attentionMask, undefined, 'int32') });
  outputs.hiddenStates.dispose();
  const logits = outputs.logits as tf.Tensor3D; // [2B, T, V]
  const targets = tf.slice(tf.tensor2d(batch.lossMask, undefined, 'float32'), [0, 1], [rows, length - 1]) as tf.Tensor2D; // [2B, T−1]
  const tokenLogProbs = tokenLogProbsFromLogits(logits, inputIds); // [2B, T−1]
  const summed = sumMaskedLogProbs(tokenLogProbs, targets); // [2B]
  // logits at position t predict token t + 1: mean over the vocabulary of positions 0…T−2, masked by the targets
  const positionMeans = tf.mean(tf.slice(logits, [0, 0, 0], [rows, length - 1, -1]), 2); // [2B, T−1]
  const maskedMean = (start: number): tf.Scalar => {
    const mask = tf.slice(targets, [start, 0], [pairs, length - 1]); // [B, T−1]
    const values = tf.slice(positionMeans, [start, 0], [pairs, length - 1]); // [B, T−1]
    return tf.div(tf.sum(tf.mul(values, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  };
  return {
    chosenLogps: tf.slice(summed, [0], [pairs]) as tf.Tensor1D,
    rejectedLogps: tf.slice(summed, [pairs], [pairs]) as tf.Tensor1D,
    chosenMeanLogits: maskedMean(0),
    rejectedMeanLogits: maskedMean(pairs),
  };
}
