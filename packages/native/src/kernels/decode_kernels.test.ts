import * as tf from '@tensorflow/tfjs';

import { describeNative, seeded } from '../../test/compare_backends';
import { gpt2DecodeBlockKernelName, gpt2DecodeBlockWeightNames } from './decode_kernels';

const [B, H, d, C, F, POSITION] = [2, 2, 4, 5, 16, 3];
const D = H * d;
const EPSILON = 1e-5;
const SHAPES: Record<(typeof gpt2DecodeBlockWeightNames)[number], number[]> = {
  ln1Weight: [D], ln1Bias: [D], qkvWeight: [D, 3 * D], qkvBias: [3 * D], projWeight: [D, D], projBias: [D],
  ln2Weight: [D], ln2Bias: [D], fcWeight: [D, F], fcBias: [F], outWeight: [F, D], outBias: [D],
};

/** Bias [B, 1, 1, C]: row 0 sees positions 0..3, row 1 has position 0 padded; positions past 3 are unfilled. */
function maskBias(): tf.Tensor4D {
  const allowed = [[1, 1, 1, 1, 0], [0, 1, 1, 1, 0]];
  return tf.tensor4d(allowed.flat().map((a) => (a === 1 ? 0 : -1e9)), [B, 1, 1, C]);
}

function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPSILON))), weight), bias);
}

/** The GPT-2 block in plain tfjs ops on cpu: returns [hidden [B, D], keys [B, H, C, d], values] after the write. */
function reference(x: tf.Tensor2D, w: Record<string, tf.Tensor>, keys: tf.Tensor4D, values: tf.Tensor4D, bias: tf.Tensor4D): tf.Tensor[] {
  const qkv = tf.add(tf.matMul(layerNorm(x, w['ln1Weight']!, w['ln1Bias']!) as tf.Tensor2D, w['qkvWeight'] as tf.Tensor2D), w['qkvBias']!); // [B, 3D]
  const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.reshape(t, [B, H, 1, d])); // [B, H, 1, d]
  const position = tf.reshape(tf.oneHot(POSITION, C), [1, 1, C, 1]); // [1, 1, C, 1]
  const write = (cache: tf.Tensor4D, fresh: tf.Tensor): tf.Tensor4D => tf.add(tf.mul(cache, tf.sub(1, position)), tf.mul(fresh, position)) as tf.Tensor4D; // [B, H, C, d]
  const newKeys = write(keys, k!);
  const newValues = write(values, v!);
  const scores = tf.add(tf.div(tf.matMul(q!, newKeys, false, true), Math.sqrt(d)), bias); // [B, H, 1, C]
  const attended = tf.reshape(tf.matMul(tf.softmax(scores), newValues), [B, D]); // [B, D]
  const afterAttention = tf.add(x, tf.add(tf.matMul(attended, w['projWeight'] as tf.Tensor2D), w['projBias']!));
  const up = tf.add(tf.matMul(layerNorm(afterAttention, w['ln2Weight']!, w['ln2Bias']!) as tf.Tensor2D, w['fcWeight'] as tf.Tensor2D), w['fcBias']!);
  const gelu = tf.mul(tf.mul(0.5, up), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(up, tf.mul(0.044715, tf.pow(up, 3)))))));
  return [tf.add(afterAttention, tf.add(tf.matMul(gelu as tf.Tensor2D, w['outWeight'] as tf.Tensor2D), w['outBias']!)), newKeys, newValues];
}

function inputs(): { x: tf.Tensor; weights: Record<string, tf.Tensor>; keys: tf.Tensor4D; values: tf.Tensor4D; bias: tf.Tensor4D } {
  const weights: Record<string, tf.Tensor> = {};
  gpt2DecodeBlockWeightNames.forEach((name, i) => (weights[name] = seeded(SHAPES[name], 10 + i)));
  return { x: seeded([B, D], 1), weights, keys: seeded([B, H, C, d], 2) as tf.Tensor4D, values: seeded([B, H, C, d], 3) as tf.Tensor4D, bias: maskBias() };
}

describeNative('native fused GPT-2 decode block')('native fused GPT-2 decode block', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('equals the block in plain tfjs ops on cpu (hidden state and the cache written in place); numTensors flat', async () => {
    await tf.setBackend('cpu');
    const expected = tf.tidy(() => {
      const { x, weights, keys, values, bias } = inputs();
      return reference(x as tf.Tensor2D, weights, keys, values, bias).map((t) => Float32Array.from(t.dataSync()));
    });
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const actual = tf.tidy(() => {
      const { x, weights, keys, values, bias } = inputs();
      const [hidden, keyOut, valueOut] = tf.engine().runKernel(gpt2DecodeBlockKernelName, { x: tf.reshape(x, [B, 1, D]), ...weights, keyCache: keys, valueCache: values, bias },
        { position: POSITION, epsilon: EPSILON }) as tf.Tensor[];
      expect(hidden!.shape).toEqual([B, 1, D]);
      // the outputs share the input buffers: the cache was written in place
      expect(Array.from(keys.dataSync())).toEqual(Array.from(keyOut!.dataSync()));
      return [hidden!, keyOut!, valueOut!].map((t) => Float32Array.from(t.dataSync()));
    });
    expect(tf.memory().numTensors).toBe(before);
    expected.forEach((values, i) => values.forEach((value, j) => expect(Math.abs((actual[i]?.[j] as number) - value)).toBeLessThan(1e-4)));
  });

  it('a weight of the wrong size is a RangeError naming it, not an out-of-bounds read', async () => {
    await tf.setBackend('native');
    tf.tidy(() => {
      const { x, weights, keys, values, bias } = inputs();
      weights['fcWeight'] = seeded([D, F - 1], 4);
      expect(() => tf.engine().runKernel(gpt2DecodeBlockKernelName, { x: tf.reshape(x, [B, 1, D]), ...weights, keyCache: keys, valueCache: values, bias },
        { position: POSITION, epsilon: EPSILON })).toThrow(/c_fc.weight/);
    });
  });
});
