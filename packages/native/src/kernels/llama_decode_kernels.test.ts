import * as tf from '@tensorflow/tfjs';

import { describeNative, seeded } from '../../test/compare_backends';
import { llamaDecodeLayerWeightNames, llamaDecodeStepKernelName } from './llama_decode_kernels';

// One layer, 4 query heads over 2 key/value heads (GQA), head_dim 4, an untied head, every bias and the Qwen3
// q/k norms present; a vocabulary and MLP width that are not multiples of the kernels' vector width.
const [B, H, HKV, d, C, F, V, POSITION] = [2, 4, 2, 4, 5, 13, 11, 3];
const D = 12;
const EPSILON = 1e-6;
const SHAPES: Record<(typeof llamaDecodeLayerWeightNames)[number], number[]> = {
  inputNorm: [D], qWeight: [D, H * d], qBias: [H * d], kWeight: [D, HKV * d], kBias: [HKV * d], vWeight: [D, HKV * d], vBias: [HKV * d],
  oWeight: [H * d, D], oBias: [D], qNorm: [d], kNorm: [d], postNorm: [D], gateWeight: [D, F], gateBias: [F], upWeight: [D, F], upBias: [F],
  downWeight: [F, D], downBias: [D],
};

function rmsNorm(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), EPSILON))), weight);
}

/** x·cos + rotate_half(x)·sin over the last axis of x [B, heads, 1, d] with tables [B, 1, 1, d]. */
function rope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const [first, second] = tf.split(x, 2, -1);
  return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(second!), first!], -1), sin));
}

interface Inputs {
  ids: tf.Tensor;
  embed: tf.Tensor2D;
  weights: Record<string, tf.Tensor>;
  keys: tf.Tensor4D;
  values: tf.Tensor4D;
  bias: tf.Tensor4D;
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  finalNorm: tf.Tensor;
  lmHead: tf.Tensor2D;
}

function inputs(): Inputs {
  const weights: Record<string, tf.Tensor> = {};
  llamaDecodeLayerWeightNames.forEach((name, i) => (weights[name] = name.endsWith('Norm') ? tf.add(1, seeded(SHAPES[name], 10 + i, 0.3)) : seeded(SHAPES[name], 10 + i)));
  const angles = tf.mul(tf.tensor([POSITION, POSITION - 1], [B, 1, 1, 1]), seeded([1, 1, 1, d], 5)); // [B, 1, 1, d]
  // row 0 sees positions 0..3, row 1 has position 0 padded; position 4 is unfilled
  const allowed = [[1, 1, 1, 1, 0], [0, 1, 1, 1, 0]];
  return {
    ids: tf.tensor2d([[3], [V - 1]], undefined, 'int32'),
    embed: seeded([V, D], 1) as tf.Tensor2D,
    weights,
    keys: seeded([B, HKV, C, d], 2) as tf.Tensor4D,
    values: seeded([B, HKV, C, d], 3) as tf.Tensor4D,
    bias: tf.tensor4d(allowed.flat().map((a) => (a === 1 ? 0 : -1e9)), [B, 1, 1, C]),
    cos: tf.cos(angles) as tf.Tensor4D,
    sin: tf.sin(angles) as tf.Tensor4D,
    finalNorm: tf.add(1, seeded([D], 6, 0.3)),
    lmHead: seeded([D, V], 7) as tf.Tensor2D,
  };
}

/** The step in plain tfjs ops on cpu: [hidden [B, D], logits [B, V], keys [B, Hkv, C, d], values] after the write. */
function reference({ ids, embed, weights: w, keys, values, bias, cos, sin, finalNorm, lmHead }: Inputs): tf.Tensor[] {
  const linear = (x: tf.Tensor, name: string): tf.Tensor => tf.add(tf.matMul(x as tf.Tensor2D, w[`${name}Weight`] as tf.Tensor2D), w[`${name}Bias`]!);
  const x = tf.gather(embed, tf.reshape(ids, [B])); // [B, D]
  const normed = rmsNorm(x, w['inputNorm']!);
  const heads = (t: tf.Tensor, count: number): tf.Tensor => tf.reshape(t, [B, count, 1, d]); // [B, heads, 1, d]
  const q = rope(rmsNorm(heads(linear(normed, 'q'), H), w['qNorm']!), cos, sin);
  const k = rope(rmsNorm(heads(linear(normed, 'k'), HKV), w['kNorm']!), cos, sin);
  const v = heads(linear(normed, 'v'), HKV);
  const position = tf.reshape(tf.oneHot(POSITION, C), [1, 1, C, 1]); // [1, 1, C, 1]
  const write = (cache: tf.Tensor, fresh: tf.Tensor): tf.Tensor => tf.add(tf.mul(cache, tf.sub(1, position)), tf.mul(fresh, position)); // [B, Hkv, C, d]
  const newKeys = write(keys, k);
  const newValues = write(values, v);
  // GQA by repeating each key/value head for its 2 query heads: [B, H, C, d]
  const repeat = (t: tf.Tensor): tf.Tensor => tf.reshape(tf.tile(tf.reshape(t, [B, HKV, 1, C * d]), [1, 1, H / HKV, 1]), [B, H, C, d]);
  const scores = tf.add(tf.div(tf.matMul(q as tf.Tensor4D, repeat(newKeys) as tf.Tensor4D, false, true), Math.sqrt(d)), bias); // [B, H, 1, C]
  const attended = tf.reshape(tf.matMul(tf.softmax(scores) as tf.Tensor4D, repeat(newValues) as tf.Tensor4D), [B, H * d]); // [B, H·d]
  const afterAttention = tf.add(x, linear(attended, 'o'));
  const normed2 = rmsNorm(afterAttention, w['postNorm']!);
  const gate = linear(normed2, 'gate');
  const hidden = tf.add(afterAttention, linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), linear(normed2, 'up')), 'down'));
  const final = rmsNorm(hidden, finalNorm);
  return [final, tf.matMul(final as tf.Tensor2D, lmHead), newKeys, newValues];
}

function run(given: Inputs, overrides: Record<string, tf.Tensor> = {}): tf.Tensor[] {
  const layerInputs: Record<string, tf.Tensor> = {};
  for (const [name, tensor] of Object.entries({ ...given.weights, ...overrides })) layerInputs[`layer0.${name}`] = tensor;
  return tf.engine().runKernel(llamaDecodeStepKernelName, {
    ids: given.ids, embed: given.embed, bias: given.bias, cos: given.cos, sin: given.sin, finalNorm: given.finalNorm, lmHead: given.lmHead,
    'layer0.keyCache': given.keys, 'layer0.valueCache': given.values, ...layerInputs,
  }, { layers: 1, heads: H, inner: F, position: POSITION, epsilon: EPSILON }) as tf.Tensor[];
}

describeNative('native fused Llama decode step')('native fused Llama decode step', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('equals the step in plain tfjs ops on cpu (hidden, logits and the cache written in place); numTensors flat', async () => {
    await tf.setBackend('cpu');
    const expected = tf.tidy(() => reference(inputs()).map((t) => Float32Array.from(t.dataSync())));
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const actual = tf.tidy(() => {
      const given = inputs();
      const [hidden, logits, keyOut, valueOut] = run(given);
      expect(hidden!.shape).toEqual([B, 1, D]);
      expect(logits!.shape).toEqual([B, 1, V]);
      // the outputs share the input buffers: the cache was written in place
      expect(Array.from(given.keys.dataSync())).toEqual(Array.from(keyOut!.dataSync()));
      return [hidden!, logits!, keyOut!, valueOut!].map((t) => Float32Array.from(t.dataSync()));
    });
    expect(tf.memory().numTensors).toBe(before);
    expected.forEach((values, i) => values.forEach((value, j) => expect(Math.abs((actual[i]?.[j] as number) - value)).toBeLessThan(1e-4)));
  });

  it('a weight of the wrong size is a RangeError naming it; an id outside the vocabulary is a RangeError', async () => {
    await tf.setBackend('native');
    tf.tidy(() => {
      const given = inputs();
      // the addon's RangeError comes from another realm than jest's, so it is matched by name and message
      expect(() => run(given, { upWeight: seeded([D, F - 1], 4) })).toThrow(expect.objectContaining({ name: 'RangeError' }) as Error);
      expect(() => run(given, { upWeight: seeded([D, F - 1], 4) })).toThrow(/layer 0 up_proj.weight has 144 floats, expected 156/);
      expect(() => run({ ...given, ids: tf.tensor2d([[0], [V]], undefined, 'int32') })).toThrow(/token id 11 out of range in row 1/);
    });
  });
});
