import * as tf from '@tensorflow/tfjs';
import { fusedNorm, hasFusedNorm } from '../ops/fused_norm';

/** LayerNorm over the last axis: (x − mean) / sqrt(var + eps) · weight + bias. x: [..., D]. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, epsilon: number): tf.Tensor {
  if (hasFusedNorm(x)) return fusedNorm(x, weight, bias, epsilon); // one kernel each way (ops/fused_norm.ts)
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true); // [..., 1]
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true); // [..., 1] (biased, as torch)
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), weight), bias);
  });
}

/** RMSNorm over the last axis (Llama): x / sqrt(mean(x²) + eps) · weight. x: [..., D]. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, epsilon: number): tf.Tensor {
  if (hasFusedNorm(x)) return fusedNorm(x, weight, null, epsilon);
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, epsilon))), weight);
  });
}
