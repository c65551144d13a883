import * as tf from '@tensorflow/tfjs';
import { customOp } from '../ops/custom_op';
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

/**
 * Kernels a backend may register for the rotary embedding (@rlhfjs/native does): inputs { x [B, H, T, d],
 * cos [B, 1, T, d], sin [B, 1, T, d] }, attrs { inverse } → y. inverse = false applies the rotation
 * x·cos + rotate_half(x)·sin; inverse = true applies its transpose, which is the gradient: dx = rope⁻¹(dy).
 */
export const ropeKernelName = 'RlhfjsRope';

/** x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁]. x: [B, H, T, d]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const [batch, , length, width] = x.shape;
  const tablesFit = [cos, sin].every((table) => table.rank === 4 && tf.util.arraysEqual(table.shape, [batch, 1, length, width]));
  if (x.dtype === 'float32' && tablesFit && tf.getKernel(ropeKernelName, tf.getBackend()) !== undefined) {
    // One kernel each way. The tables are constants of the positions (their zero gradients are dropped by the
    // tape), but they are inputs so that the backward pass keeps them alive.
    const rotate = (input: tf.Tensor, cosine: tf.Tensor, sine: tf.Tensor, inverse: boolean): tf.Tensor4D =>
      tf.engine().runKernel(ropeKernelName, { x: input, cos: cosine, sin: sine }, { inverse }) as tf.Tensor4D;
    const op = customOp(([input, cosine, sine], save) => {
      save([cosine as tf.Tensor, sine as tf.Tensor]);
      return {
        value: rotate(input as tf.Tensor, cosine as tf.Tensor, sine as tf.Tensor, false),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          rotate(dy, saved[0] as tf.Tensor, saved[1] as tf.Tensor, true), // [B, H, T, d]
          tf.zerosLike(saved[0] as tf.Tensor),
          tf.zerosLike(saved[1] as tf.Tensor),
        ],
      };
    });
    return op(x, cos, sin) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const half = width / 2;
    const [first, second] = tf.split(x, [half, half], 3) as [tf.Tensor4D, tf.Tensor4D]; // [B, H, T, d/2] each
    const rotated = tf.concat([tf.neg(second), first], 3); // [B, H, T, d]
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
  });
}
