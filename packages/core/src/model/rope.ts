import * as tf from '@tensorflow/tfjs';
import type { RopeConfig } from './model_config';

/**
 * Rotary embedding tables for the given positions, as HF Llama computes them: inv_freq = θ^(−2i/d), angles =
 * position · inv_freq (positions divided by the factor under `linear` scaling), duplicated to d.
 * positionIds: [B, T] → {cos, sin}: [B, 1, T, d] (broadcast over heads).
 */
export function ropeTables(positionIds: tf.Tensor2D, headDim: number, rope: RopeConfig): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  return tf.tidy(() => {
    const half = headDim / 2;
    const inverseFrequencies = new Float32Array(half);
    const factor = rope.scaling === null ? 1 : rope.scaling.factor;
    for (let i = 0; i < half; i++) inverseFrequencies[i] = 1 / (Math.pow(rope.theta, (2 * i) / headDim) * factor);
    const [batch, length] = positionIds.shape;
    const positions = tf.reshape(tf.cast(positionIds, 'float32'), [batch, length, 1]); // [B, T, 1]
    const angles = tf.mul(positions, tf.tensor1d(inverseFrequencies)); // [B, T, d/2]
    const full = tf.concat([angles, angles], -1); // [B, T, d]
    const expanded = tf.reshape(full, [batch, 1, length, headDim]); // [B, 1, T, d]
    return { cos: tf.cos(expanded) as tf.Tensor4D, sin: tf.sin(expanded) as tf.Tensor4D };
  });
}

/** x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁]. x: [B, H, T, d]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const half = (x.shape[3] as number) / 2;
    const [first, second] = tf.split(x, [half, half], 3) as [tf.Tensor4D, tf.Tensor4D]; // [B, H, T, d/2] each
    const rotated = tf.concat([tf.neg(second), first], 3); // [B, H, T, d]
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
  });
}
