import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import type { CausalLM } from '../model/causal_lm';
import { targetLogProbs } from '../ops/target_log_probs';

export interface SequenceLogProbsOptions {
  /** Logits are divided by this before the log-softmax (default 1), as TRL does when scoring sampled text. */
  temperature?: number;
  /** Position ids [B, T] (packed rows); derived from the mask when omitted. */
  positionIds?: tf.Tensor2D;
  segmentIds?: tf.Tensor2D;
}

/**
 * log p(x_{t+1} | x_{≤t}) of each next token from logits [B, T, V] and token ids [B, T] → [B, T−1], computed as
 * logit[target] − logsumexp(logits) (numerically stable) by the fused `targetLogProbs` op: no one-hot, no shifted
 * or scaled copy of the logits, and a backward that writes one [B, T, V] gradient. Padding is not masked here:
 * callers multiply by the shifted attention or loss mask.
 */
export function tokenLogProbsFromLogits(logits: tf.Tensor3D, inputIds: tf.Tensor2D, temperature = 1): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, length, vocab] = logits.shape;
    if (inputIds.shape[0] !== batch || inputIds.shape[1] !== length) {
      throw new ShapeError(`tokenLogProbsFromLogits: logits are [${logits.shape}] but inputIds are [${inputIds.shape}]`);
    }
    if (length < 1) throw new ShapeError(`tokenLogProbsFromLogits: logits are [${logits.shape}]; at least one position is needed`);
    // Row (b, t) predicts token t + 1; the last position of each row predicts nothing (−1: skipped, gradient 0).
    const ids = inputIds.dataSync();
    const targets = new Int32Array(batch * length);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < length; t++) {
        if (t + 1 === length) {
          targets[b * length + t] = -1;
          continue;
        }
        const id = ids[b * length + t + 1] as number;
        if (!(Number.isInteger(id) && id >= 0 && id < vocab)) {
          throw new ShapeError(`tokenLogProbsFromLogits: inputIds[${b}][${t + 1}] = ${id} is outside the vocabulary [0, ${vocab}) of logits [${logits.shape}]`);
        }
        targets[b * length + t] = id;
      }
    }
    const flat = tf.reshape(logits, [batch * length, vocab]) as tf.Tensor2D; // [B·T, V]
    const perPosition = tf.reshape(targetLogProbs(flat, targets, temperature), [batch, length]); // [B, T]
    return tf.slice(perPosition, [0, 0], [batch, length - 1]) as tf.Tensor2D; // [B, T−1]
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
