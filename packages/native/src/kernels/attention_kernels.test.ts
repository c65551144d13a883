import * as tf from '@tensorflow/tfjs';

import { describeNative, relativeError, seeded } from '../../test/compare_backends';
import { attentionKernelName } from './attention_kernels';

const MASKED = -1e9;

/** Causal + padding bias [B, 1, T, C] for T queries after `past` positions, keys past `filled` unfilled (masked). */
function maskBias(padding: number[][], queries: number, past: number, capacity: number): tf.Tensor4D {
  const values: number[] = [];
  padding.forEach((row) => {
    for (let t = 0; t < queries; t++) {
      for (let s = 0; s < capacity; s++) values.push(s <= past + t && s < row.length && row[s] === 1 ? 0 : MASKED);
    }
  });
  return tf.tensor4d(values, [padding.length, 1, queries, capacity]);
}

/** Plain tfjs ops: K/V heads repeated, softmax(q kᵀ/√d + bias) v. */
function reference(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const groups = q.shape[1] / k.shape[1];
    const repeat = (x: tf.Tensor4D): tf.Tensor4D => {
      const [b, h, s, d] = x.shape;
      return tf.reshape(tf.tile(tf.reshape(x, [b * h, 1, s * d]), [1, groups, 1]), [b, h * groups, s, d]) as tf.Tensor4D; // [B, H, S, d]
    };
    const scores = tf.add(tf.div(tf.matMul(q, repeat(k), false, true), Math.sqrt(q.shape[3])), bias); // [B, H, T, S]
    return tf.matMul(tf.softmax(scores), repeat(v)) as tf.Tensor4D;
  });
}

describeNative('native attention kernel')('native attention kernel', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([
    ['decode step, GQA, preallocated cache with unfilled positions', 4, 2, 1, 5, 8],
    ['three queries, multi-head, a fully masked (left-padding) query row', 2, 2, 3, 0, 3],
    ['multi-query', 3, 1, 2, 2, 4],
  ])('%s: equals repeated-K/V softmax attention on cpu', async (_, heads, keyValueHeads, queries, past, capacity) => {
    const padding = [Array.from({ length: past + queries }, () => 1), Array.from({ length: past + queries }, (__, s) => (s < 2 ? 0 : 1))];
    const inputs = (): tf.Tensor4D[] => [
      seeded([2, heads, queries, 8], 1) as tf.Tensor4D,
      seeded([2, keyValueHeads, capacity, 8], 2) as tf.Tensor4D,
      seeded([2, keyValueHeads, capacity, 8], 3) as tf.Tensor4D,
      maskBias(padding, queries, past, capacity),
    ];
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const fused = tf.tidy(() => {
      const [q, k, v, bias] = inputs();
      return tf.engine().runKernel(attentionKernelName, { q: q as tf.Tensor, k: k as tf.Tensor, v: v as tf.Tensor, bias: bias as tf.Tensor }, {}) as tf.Tensor;
    });
    const fusedValues = Float32Array.from(fused.dataSync());
    expect(fused.shape).toEqual([2, heads, queries, 8]);
    fused.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await tf.setBackend('cpu');
    const expected = tf.tidy(() => {
      const [q, k, v, bias] = inputs();
      return reference(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, bias as tf.Tensor4D);
    });
    expect(relativeError(fusedValues, Float32Array.from(expected.dataSync()))).toBeLessThan(1e-5);
    expected.dispose();
  });

  it('rejects shapes that do not fit, naming them', async () => {
    await tf.setBackend('native');
    tf.tidy(() => {
      const run = (): tf.Tensor => tf.engine().runKernel(attentionKernelName, { q: tf.zeros([1, 3, 1, 4]), k: tf.zeros([1, 2, 2, 4]), v: tf.zeros([1, 2, 2, 4]), bias: tf.zeros([1, 1, 1, 2]) }, {}) as tf.Tensor;
      expect(run).toThrow(/shapes do not fit: q \[1,3,1,4\], k \[1,2,2,4\]/);
    });
  });
});
