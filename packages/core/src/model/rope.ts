import * as tf from '@tensorflow/tfjs';
import { customOp } from '../ops/custom_op';
import type { RopeConfig } from './rope_config';

export interface RopeFrequencies {
  /** [d/2] inverse frequencies. */
  readonly inverseFrequencies: Float64Array;
  /** Multiplies cos and sin (YaRN's attention factor; 1 otherwise). */
  readonly attentionScaling: number;
}

/** θ^(−2i/d) for i = 0..d/2−1. */
function defaultInverseFrequencies(theta: number, dim: number): Float64Array {
  const out = new Float64Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) out[i] = 1 / Math.pow(theta, (2 * i) / dim);
  return out;
}

/**
 * Inverse frequencies and cos/sin scaling for one rope type, as transformers' modeling_rope_utils computes them
 * (`_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`, `_compute_dynamic_ntk_parameters`,
 * `_compute_llama3_parameters`, `_compute_yarn_parameters`). `sequenceLength` (max position id + 1) matters only to
 * `dynamic`, which grows its base once the sequence passes `max_position_embeddings`.
 */
export function ropeFrequencies(rope: RopeConfig, headDim: number, sequenceLength: number): RopeFrequencies {
  const { theta, scaling } = rope;
  const dim = headDim;
  switch (scaling.type) {
    case 'default':
      return { inverseFrequencies: defaultInverseFrequencies(theta, dim), attentionScaling: 1 };
    case 'linear':
      return { inverseFrequencies: defaultInverseFrequencies(theta, dim).map((f) => f / scaling.factor), attentionScaling: 1 };
    case 'dynamic': {
      const original = scaling.originalMaxPositions;
      const length = Math.max(sequenceLength, original);
      const base = theta * Math.pow((scaling.factor * length) / original - (scaling.factor - 1), dim / (dim - 2));
      return { inverseFrequencies: defaultInverseFrequencies(base, dim), attentionScaling: 1 };
    }
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
      const lowFreqWavelength = originalMaxPositions / lowFreqFactor;
      const highFreqWavelength = originalMaxPositions / highFreqFactor;
      const inverseFrequencies = defaultInverseFrequencies(theta, dim).map((frequency) => {
        const wavelength = (2 * Math.PI) / frequency;
        if (wavelength < highFreqWavelength) return frequency; // high frequency: kept
        if (wavelength > lowFreqWavelength) return frequency / factor; // low frequency: interpolated
        const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * (frequency / factor) + smooth * frequency;
      });
      return { inverseFrequencies, attentionScaling: 1 };
    }
    case 'yarn': {
      const { factor, originalMaxPositions, betaFast, betaSlow, truncate } = scaling;
      // Dimension index at which a frequency makes `rotations` turns over the original context.
      const correctionDim = (rotations: number): number =>
        (dim * Math.log(originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
      let low = correctionDim(betaFast);
      let high = correctionDim(betaSlow);
      if (truncate) {
        low = Math.floor(low);
        high = Math.ceil(high);
      }
      low = Math.max(low, 0);
      high = Math.min(high, dim - 1);
      if (low === high) high += 0.001; // transformers' guard against a zero-width ramp
      const extrapolation = defaultInverseFrequencies(theta, dim);
      const inverseFrequencies = extrapolation.map((frequency, i) => {
        const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
        const extrapolationWeight = 1 - ramp;
        return (frequency / factor) * (1 - extrapolationWeight) + frequency * extrapolationWeight;
      });
      return { inverseFrequencies, attentionScaling: scaling.attentionFactor };
    }
    default: {
      const unreachable: never = scaling;
      return unreachable;
    }
  }
}

/**
 * Rotary embedding tables for the given positions, as HF Llama computes them: angles = position · inv_freq,
 * duplicated to d, then cos/sin times the attention scaling. `dynamic` reads the largest position id (one sync
 * read) because its frequencies depend on the sequence length, as transformers' `dynamic_rope_update` does for a
 * model that has not seen a longer sequence before.
 * positionIds: [B, T] → {cos, sin}: [B, 1, T, d] (broadcast over heads).
 */
export function ropeTables(positionIds: tf.Tensor2D, headDim: number, rope: RopeConfig): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  return tf.tidy(() => {
    const sequenceLength = rope.scaling.type === 'dynamic' ? (tf.max(positionIds).dataSync()[0] as number) + 1 : 0;
    const { inverseFrequencies, attentionScaling } = ropeFrequencies(rope, headDim, sequenceLength);
    const [batch, length] = positionIds.shape;
    const positions = tf.reshape(tf.cast(positionIds, 'float32'), [batch, length, 1]); // [B, T, 1]
    const angles = tf.mul(positions, tf.tensor1d(Float32Array.from(inverseFrequencies))); // [B, T, d/2]
    const full = tf.concat([angles, angles], -1); // [B, T, d]
    const expanded = tf.reshape(full, [batch, 1, length, headDim]); // [B, 1, T, d]
    if (attentionScaling === 1) return { cos: tf.cos(expanded) as tf.Tensor4D, sin: tf.sin(expanded) as tf.Tensor4D };
    return { cos: tf.mul(tf.cos(expanded), attentionScaling) as tf.Tensor4D, sin: tf.mul(tf.sin(expanded), attentionScaling) as tf.Tensor4D };
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
