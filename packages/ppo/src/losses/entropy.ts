import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@rlhfjs/core';

/** Per-token entropy of the categorical distribution softmax(logits), 0 outside the mask. [B, T, V] → [B, T] */
export function entropyFromLogits(logits: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  if (logits.shape[0] !== mask.shape[0] || logits.shape[1] !== mask.shape[1]) {
    throw new ShapeError(`entropyFromLogits: logits [${logits.shape.join(', ')}] do not fit mask [${mask.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const logNormaliser = tf.logSumExp(logits, -1); // [B, T]
    const probabilities = tf.softmax(logits, -1); // [B, T, V]
    const expectedLogit = tf.sum(tf.mul(probabilities, logits), -1); // [B, T]
    return tf.mul(tf.sub(logNormaliser, expectedLogit), mask) as tf.Tensor2D; // H = logΣe^l − Σ p·l
  });
}
