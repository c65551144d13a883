import * as tf from '@tensorflow/tfjs';

import { describeNative, expectSameOnBothBackends, seeded } from '../../test/compare_backends';

const broadcastPairs: ReadonlyArray<readonly [number[], number[]]> = [
  [[4, 6], [4, 6]], // same shape
  [[4, 6], []], // scalar
  [[], [4, 6]],
  [[2, 3, 6], [6]], // bias row over [B, T, D]
  [[2, 3, 6], [2, 3, 1]], // per-token value such as a layernorm mean
  [[2, 1, 3], [1, 4, 1]], // both sides broadcast
  [[0, 3], [3]], // empty
];

describeNative('native elementwise kernels')('native elementwise kernels', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches cpu for every binary op under broadcasting', async () => {
    const ops: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
      add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div, maximum: tf.maximum, minimum: tf.minimum,
      squaredDifference: tf.squaredDifference,
    };
    for (const [name, op] of Object.entries(ops)) {
      for (const [aShape, bShape] of broadcastPairs) {
        try {
          await expectSameOnBothBackends(() => op(seeded(aShape, 1, 3), seeded(bShape, 2, 3)));
        } catch (error) {
          throw new Error(`${name} ${JSON.stringify(aShape)} ${JSON.stringify(bShape)}: ${String(error)}`);
        }
      }
    }
  });

  it('matches cpu for every unary op, erf with tfjs\'s own approximation', async () => {
    const ops: Record<string, (x: tf.Tensor) => tf.Tensor> = {
      exp: tf.exp, neg: tf.neg, tanh: tf.tanh, erf: tf.erf, square: tf.square, relu: tf.relu, sigmoid: tf.sigmoid,
      abs: tf.abs, reciprocal: tf.reciprocal,
      log: (x) => tf.log(tf.abs(x)), sqrt: (x) => tf.sqrt(tf.abs(x)), rsqrt: (x) => tf.rsqrt(tf.abs(x)),
      log1p: (x) => tf.log1p(tf.abs(x)),
    };
    for (const [name, op] of Object.entries(ops)) {
      try {
        await expectSameOnBothBackends(() => op(seeded([5, 7, 9], 3, 4)));
        await expectSameOnBothBackends(() => op(tf.tensor([0, -0, 1e-6, -1e-6, 20, -20])));
      } catch (error) {
        throw new Error(`${name}: ${String(error)}`);
      }
    }
  });

  it('applies a causal mask with where/select like cpu', async () => {
    await expectSameOnBothBackends(() => {
      const scores = seeded([2, 8, 8], 4); // [B, T, T]
      const causal = tf.linalg.bandPart(tf.ones([8, 8]), -1, 0).cast('bool'); // [T, T]
      const mask = tf.broadcastTo(causal, [2, 8, 8]);
      return tf.where(mask, scores, tf.fill([2, 8, 8], -1e9));
    });
  });

  it('keeps int32 and bool tensors on the cpu kernels', async () => {
    await expectSameOnBothBackends(() => tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([4, 5, 6], [3], 'int32')));
    await expectSameOnBothBackends(() => tf.neg(tf.tensor([1, -2], [2], 'int32')).cast('float32'));
  });

  it('gives cpu gradients of a gelu (tanh and erf forms) through tf.grad', async () => {
    const geluTanh = (x: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.mul(x, 0.5), tf.add(1,
      tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))));
    const geluErf = (x: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))));
    await expectSameOnBothBackends(() => tf.grad(geluTanh)(seeded([4, 16], 5, 3)));
    await expectSameOnBothBackends(() => tf.grad(geluErf)(seeded([4, 16], 6, 3)));
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('native');
    const a = seeded([64, 128], 7);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.tidy(() => { tf.exp(tf.add(a, tf.mul(a, a))); });
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });
});
