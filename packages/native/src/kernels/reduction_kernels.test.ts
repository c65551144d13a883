import * as tf from '@tensorflow/tfjs';

import { describeNative, expectSameOnBothBackends, seeded } from '../../test/compare_backends';

describeNative('native reduction and softmax kernels')('native reduction and softmax kernels', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches cpu for sum, max, min and mean over contiguous, split and all axes', async () => {
    const reductions = { sum: tf.sum, max: tf.max, min: tf.min, mean: tf.mean };
    const axesList: Array<number | number[] | undefined> = [undefined, 0, 1, -1, [0, 1], [1, 2], [0, 2], [0, 1, 2]];
    for (const [name, reduce] of Object.entries(reductions)) {
      for (const axis of axesList) {
        for (const keepDims of [false, true]) {
          try {
            await expectSameOnBothBackends(() => reduce(seeded([6, 5, 7], 1, 3), axis, keepDims));
          } catch (error) {
            throw new Error(`${name} axis=${JSON.stringify(axis)} keepDims=${keepDims}: ${String(error)}`);
          }
        }
      }
    }
  });

  it('sums the bias gradient of a [B*T, D] activation (outer-axis reduction) and an empty tensor', async () => {
    await expectSameOnBothBackends(() => tf.sum(seeded([1024, 256], 2), 0));
    await expectSameOnBothBackends(() => tf.sum(tf.zeros([0, 4]), 0));
  });

  it('matches cpu softmax and logSoftmax on rank-2 and attention-shaped [B, H, T, T] inputs', async () => {
    await expectSameOnBothBackends(() => tf.softmax(seeded([16, 1024], 3, 8)));
    await expectSameOnBothBackends(() => tf.softmax(seeded([2, 4, 16, 16], 4, 8)));
    await expectSameOnBothBackends(() => tf.logSoftmax(seeded([16, 50], 5, 8)));
  });

  it('gives cpu gradients of softmax attention and layernorm through tf.grad', async () => {
    await expectSameOnBothBackends(() => {
      const attention = (scores: tf.Tensor, values: tf.Tensor): tf.Scalar =>
        tf.sum(tf.square(tf.matMul(tf.softmax(scores), values))); // [B, T, T] x [B, T, d]
      return tf.grads(attention)([seeded([2, 6, 6], 6, 2), seeded([2, 6, 4], 7)]);
    });
    await expectSameOnBothBackends(() => {
      const layerNorm = (x: tf.Tensor, gamma: tf.Tensor): tf.Scalar => {
        const mean = tf.mean(x, -1, true); // [N, 1]
        const variance = tf.mean(tf.square(tf.sub(x, mean)), -1, true); // [N, 1]
        const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
        return tf.sum(tf.mul(tf.mul(normed, gamma), seeded([5, 8], 10)));
      };
      return tf.grads(layerNorm)([seeded([5, 8], 8, 2), seeded([8], 9)]);
    });
  });
});
