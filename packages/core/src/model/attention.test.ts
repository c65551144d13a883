import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { attentionBackward, attentionBias, repeatKeyValueHeads, scaledDotProductAttention } from './attention';

/** The plain reference: every key/value head repeated for its query heads, then softmax(q kᵀ/√d + bias) v per head. */
function referenceAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const groups = q.shape[1] / k.shape[1];
    const keys = repeatKeyValueHeads(k, groups); // [B, H, S, d]
    const values = repeatKeyValueHeads(v, groups);
    const scores = tf.add(tf.div(tf.matMul(q, keys, false, true), Math.sqrt(q.shape[3])), bias); // [B, H, T, S]
    return tf.matMul(tf.softmax(scores), values) as tf.Tensor4D; // [B, H, T, d]
  });
}

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

describe('scaledDotProductAttention', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  // left-padded row 1 and a query block after 2 cached positions: causal + padding in one bias
  const mask = (): tf.Tensor2D => tf.tensor2d([[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], [2, 5], 'int32');

  it.each([
    ['multi-head (H = Hkv)', 4, 4],
    ['grouped-query (H = 2·Hkv)', 4, 2],
    ['multi-query (Hkv = 1)', 3, 1],
  ])('%s equals the repeated-K/V reference, values and gradients', (_, heads, keyValueHeads) => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const [batch, queries, keys, dim] = [2, 3, 5, 4];
      const q = seeded([batch, heads, queries, dim], 1) as tf.Tensor4D;
      const k = seeded([batch, keyValueHeads, keys, dim], 2) as tf.Tensor4D;
      const v = seeded([batch, keyValueHeads, keys, dim], 3) as tf.Tensor4D;
      const bias = attentionBias(mask(), queries, keys - queries);
      const weights = seeded([batch, heads, queries, dim], 4);
      const loss = (fn: typeof scaledDotProductAttention) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(fn(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias), weights)) as tf.Scalar;
      const ours = scaledDotProductAttention(q, k, v, bias);
      const reference = referenceAttention(q, k, v, bias);
      expect(ours.shape).toEqual([batch, heads, queries, dim]);
      expect(tf.max(tf.abs(tf.sub(ours, reference))).dataSync()[0]).toBeLessThan(1e-5);
      const oursGrads = tf.grads(loss(scaledDotProductAttention))([q, k, v]);
      const referenceGrads = tf.grads(loss(referenceAttention))([q, k, v]);
      oursGrads.forEach((grad, i) => {
        expect(grad.shape).toEqual((referenceGrads[i] as tf.Tensor).shape);
        expect(tf.max(tf.abs(tf.sub(grad, referenceGrads[i] as tf.Tensor))).dataSync()[0]).toBeLessThan(1e-5);
      });
      // the key/value gradient is not zero: the test would see a dropped group
      expect(tf.sum(tf.abs(oursGrads[1] as tf.Tensor)).dataSync()[0]).toBeGreaterThan(1e-3);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ['multi-head', 2, 2, 3],
    ['grouped-query, one query (decode)', 4, 2, 1],
  ])('attentionBackward (%s) equals the gradients tfjs takes of the reference, bias included', (_, heads, keyValueHeads, queries) => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const [batch, keys, dim] = [2, 5, 4];
      const q = seeded([batch, heads, queries, dim], 11) as tf.Tensor4D;
      const k = seeded([batch, keyValueHeads, keys, dim], 12) as tf.Tensor4D;
      const v = seeded([batch, keyValueHeads, keys, dim], 13) as tf.Tensor4D;
      // a soft (finite, learnable-looking) bias so that its gradient is not all zero, plus the causal/padding mask
      const bias = tf.add(attentionBias(mask(), queries, keys - queries), tf.mul(seeded([batch, 1, queries, keys], 14), 0.5)) as tf.Tensor4D;
      const dy = seeded([batch, heads, queries, dim], 15) as tf.Tensor4D;
      const reference = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        tf.sum(tf.mul(referenceAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, d as tf.Tensor4D), dy)) as tf.Scalar)([q, k, v, bias]);
      const ours = attentionBackward(q, k, v, bias, dy);
      ours.forEach((grad, i) => {
        const expected = reference[i] as tf.Tensor;
        expect(grad.shape).toEqual(expected.shape);
        expect(tf.max(tf.abs(tf.sub(grad, expected))).dataSync()[0]).toBeLessThan(1e-5);
        expect(tf.max(tf.abs(expected)).dataSync()[0]).toBeGreaterThan(1e-4); // each gradient is exercised
      });
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('attentionBias: causal after the past, padding, packed segments and unfilled cache positions are masked', () => {
    tf.tidy(() => {
      const M = -1e9;
      // 2 queries after 1 cached position, row 1 pads key 0, keys past the 3-wide mask (capacity 4) masked
      const padded = attentionBias(tf.tensor2d([[1, 1, 1], [0, 1, 1]], [2, 3], 'int32'), 2, 1, undefined, 4).arraySync();
      expect(padded).toEqual([[[[0, 0, M, M], [0, 0, 0, M]]], [[[M, 0, M, M], [M, 0, 0, M]]]]);
      // packing: tokens of example 0 never see example 1's
      const packed = attentionBias(tf.tensor2d([[1, 1, 1]], [1, 3], 'int32'), 3, 0, tf.tensor2d([[0, 0, 1]], [1, 3], 'int32')).arraySync();
      expect(packed).toEqual([[[[0, M, M], [0, 0, M], [M, M, 0]]]]);
      expect(() => attentionBias(tf.tensor2d([[1, 1]], [1, 2], 'int32'), 1, 1, undefined, 1)).toThrow(/keyLength 1 is shorter than the attention mask \[1,2\]/);
    });
  });

  it('a masked key gets no weight: changing its value changes nothing', () => {
    tf.tidy(() => {
      const q = seeded([2, 2, 1, 4], 5) as tf.Tensor4D;
      const k = seeded([2, 1, 5, 4], 6) as tf.Tensor4D;
      const v = seeded([2, 1, 5, 4], 7) as tf.Tensor4D;
      const bias = attentionBias(mask(), 1, 4);
      const changed = tf.concat([tf.fill([2, 1, 1, 4], 100), tf.slice(v, [0, 0, 1, 0], [2, 1, 4, 4])], 2) as tf.Tensor4D; // position 0 changed
      const a = scaledDotProductAttention(q, k, v, bias).arraySync()[1];
      const b = scaledDotProductAttention(q, k, changed, bias).arraySync()[1]; // row 1 pads position 0
      expect(a).toEqual(b);
    });
  });

  it('rejects heads that do not group and a bias of the wrong shape with ShapeErrors', () => {
    tf.tidy(() => {
      const q = seeded([1, 3, 2, 4], 1) as tf.Tensor4D;
      const k = seeded([1, 2, 2, 4], 2) as tf.Tensor4D;
      const bias = tf.zeros([1, 1, 2, 2]) as tf.Tensor4D;
      expect(() => scaledDotProductAttention(q, k, k, bias)).toThrow(ShapeError);
      expect(() => scaledDotProductAttention(q, k, k, bias)).toThrow(/H a multiple of Hkv/);
      const q2 = seeded([1, 2, 2, 4], 1) as tf.Tensor4D;
      expect(() => scaledDotProductAttention(q2, k, k, tf.zeros([1, 1, 2, 3]) as tf.Tensor4D)).toThrow(/bias is \[1,1,2,3\], expected \[1, 1, 2, 2\]/);
    });
  });
});
