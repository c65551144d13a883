import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import type { CausalLM } from '../model/causal_lm';

export interface SequenceLogProbsOptions {
  /** Logits are divided by this before the log-softmax (default 1), as TRL does when scoring sampled text. */
  temperature?: number;
  /** Position ids [B, T] (packed rows); derived from the mask when omitted. */
  positionIds?: tf.Tensor2D;
  segmentIds?: tf.Tensor2D;
}

/**
 * log p(x_{t+1} | x_{≤t}) of each next token from logits [B, T, V] and token ids [B, T] → [B, T−1], computed as
 * logit[target] − logsumexp(logits) (numerically stable). Padding is not masked here: callers multiply by the
 * shifted attention or loss mask.
 */
export function tokenLogProbsFromLogits(logits: tf.Tensor3D, inputIds: tf.Tensor2D, temperature = 1): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, length, vocab] = logits.shape;
    if (inputIds.shape[0] !== batch || inputIds.shape[1] !== length) {
      throw new ShapeError(`tokenLogProbsFromLogits: logits are [${logits.shape}] but inputIds are [${inputIds.shape}]`);
    }
    const scaled = temperature === 1 ? logits : tf.div(logits, temperature);
    const predicting = tf.slice(scaled, [0, 0, 0], [batch, length - 1, vocab]); // [B, T−1, V]
    const targets = tf.slice(inputIds, [0, 1], [batch, length - 1]); // [B, T−1]
    const targetLogits = tf.sum(tf.mul(predicting, tf.oneHot(tf.cast(targets, 'int32'), vocab)), -1); // [B, T−1]
    return tf.sub(targetLogits, tf.logSumExp(predicting, -1)) as tf.Tensor2D; // [B, T−1]
  });
}

/**
 * The one scoring function PPO, DPO and evaluation share (DESIGN.md): log-probs [B, T−1] of each next token of
 * `inputIds` [B, T] under `model`. Differentiable with respect to the model's trainable variables.
 */
export function sequenceLogProbs(
  model: CausalLM,
  batch: { inputIds: tf.Tensor2D; attentionMask?: tf.Tensor2D },
  options: SequenceLogProbsOptions = {},
): tf.Tensor2D {
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) throw new ShapeError(`sequenceLogProbs: temperature must be > 0, got ${temperature}`);
  return tf.tidy(() => {
    const { logits, hiddenStates } = model.forward({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
      positionIds: options.positionIds,
      segmentIds: options.segmentIds,
    });
    hiddenStates.dispose();
    return tokenLogProbsFromLogits(logits as tf.Tensor3D, batch.inputIds, temperature);
  });
}

/** Sum over the sequence of masked per-token log-probs: [B, T−1] × mask [B, T−1] → [B]. */
export function sumMaskedLogProbs(tokenLogProbs: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tokenLogProbs, tf.cast(mask, 'float32')), 1) as tf.Tensor1D);
}
