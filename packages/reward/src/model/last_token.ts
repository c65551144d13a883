import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@rlhfjs/core';

/**
 * The index of the last real token of each row: the last position where `attentionMask` is 1. This is the same
 * position for left and right padding (and the EOS position when the sequence ends with EOS). Read on the host:
 * the mask is small, and every row must have at least one real token. → Int32Array [B].
 *
 * Note: transformers' `*ForSequenceClassification` finds this position from `input_ids != pad_token_id` instead
 * of the mask, so it agrees with us whenever the pad token is not also used as a real token (e.g. EOS as pad).
 */
export function lastRealTokenIndices(attentionMask: tf.Tensor2D): Int32Array {
  if (attentionMask.rank !== 2) {
    throw new ShapeError(`lastRealTokenIndices: attentionMask must be [B, T], got [${attentionMask.shape}]`);
  }
  const [batch, length] = attentionMask.shape;
  const values = attentionMask.dataSync();
  const indices = new Int32Array(batch);
  for (let row = 0; row < batch; row++) {
    let last = -1;
    for (let position = 0; position < length; position++) if ((values[row * length + position] ?? 0) > 0) last = position;
    if (last < 0) throw new ShapeError(`lastRealTokenIndices: row ${row} of attentionMask [${batch}, ${length}] has no real token`);
    indices[row] = last;
  }
  return indices;
}

/**
 * hidden [B, T, D] at one position per row → [B, D]. Differentiable: a one-hot selector [B, T, 1] multiplied in and
 * summed over T (elementwise ops every backend has and whose gradients keep their own inputs).
 */
export function gatherPositions(hidden: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
  const [batch, length] = hidden.shape;
  if (positions.length !== batch) {
    throw new ShapeError(`gatherPositions: ${positions.length} positions for a batch of ${batch}`);
  }
  return tf.tidy(() => {
    const selector = new Float32Array(batch * length);
    for (let row = 0; row < batch; row++) selector[row * length + (positions[row] as number)] = 1;
    const oneHot = tf.tensor3d(selector, [batch, length, 1]); // [B, T, 1]
    return tf.sum(tf.mul(hidden, oneHot), 1) as tf.Tensor2D; // [B, T, D] → [B, D]
  });
}
