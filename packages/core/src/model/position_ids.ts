import * as tf from '@tensorflow/tfjs';

/**
 * Position ids of the last `length` tokens from an attention mask [B, S], as HF's generate derives them:
 * cumsum(mask) − 1, with padded positions set to 1. Left-padded rows therefore start at 0 at their first real
 * token. Computed on the host: the mask is small and this keeps it backend-independent. → [B, length] int32.
 */
export function positionIdsFromMask(mask: tf.Tensor2D, length: number): tf.Tensor2D {
  const [batch, total] = mask.shape;
  const values = mask.dataSync();
  const positions = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let s = 0; s < total; s++) {
      const real = (values[b * total + s] ?? 0) > 0;
      if (real) count++;
      const t = s - (total - length);
      if (t >= 0) positions[b * length + t] = real ? count - 1 : 1;
    }
  }
  return tf.tensor2d(positions, [batch, length], 'int32');
}
