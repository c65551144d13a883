import * as tf from '@tensorflow/tfjs';

import { describeNative, expectSameOnBothBackends, seeded } from '../../test/compare_backends';

describeNative('native layout kernels')('native layout kernels', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches cpu transposes of attention heads, matrices and odd permutations', async () => {
    await expectSameOnBothBackends(() => tf.transpose(seeded([2, 16, 4, 8], 1), [0, 2, 1, 3])); // [B, T, H, dh] -> [B, H, T, dh]
    await expectSameOnBothBackends(() => tf.transpose(seeded([33, 17], 2)));
    await expectSameOnBothBackends(() => tf.transpose(seeded([2, 3, 4, 5, 6], 3), [4, 2, 0, 3, 1]));
    await expectSameOnBothBackends(() => tf.transpose(tf.zeros([0, 3]), [1, 0]));
  });

  it('matches cpu slices, splits (qkv) and concats, contiguous or not, and their gradients', async () => {
    await expectSameOnBothBackends(() => tf.slice(seeded([4, 6, 5], 10), [1, 2, 0], [2, 3, -1]));
    await expectSameOnBothBackends(() => tf.slice(seeded([4, 6], 11), [1, 0], [2, 6])); // contiguous rows
    await expectSameOnBothBackends(() => tf.split(seeded([6, 12], 12), 3, 1)); // [B*T, 3D] -> q, k, v
    await expectSameOnBothBackends(() => tf.split(seeded([5, 4, 3], 13), [1, 3, 1], 0));
    await expectSameOnBothBackends(() => tf.concat([seeded([2, 3], 14), seeded([2, 5], 15), tf.zeros([2, 0])], 1));
    await expectSameOnBothBackends(() => tf.concat([seeded([2, 3, 2], 16), seeded([1, 3, 2], 17)], 0));
    await expectSameOnBothBackends(() => {
      const f = (x: tf.Tensor): tf.Scalar => {
        const [q, k, v] = tf.split(x, 3, 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.sum(tf.mul(tf.concat([tf.mul(q, k), tf.slice(v, [0, 1], [-1, 2])], 1), seeded([4, 5], 19))); // [4, 5]
      };
      return tf.grad(f)(seeded([4, 9], 18));
    });
  });

  it('gathers embedding rows for [B, T] ids and along other axes like cpu', async () => {
    const ids = (): tf.Tensor => tf.tensor([[3, 0, 9], [9, 9, 1]], [2, 3], 'int32'); // [B, T]
    await expectSameOnBothBackends(() => tf.gather(seeded([10, 4], 4), ids())); // [B, T, D]
    await expectSameOnBothBackends(() => tf.gather(seeded([3, 10, 2], 5), tf.tensor([1, 9, 0], [3], 'int32'), 1));
    await expectSameOnBothBackends(() => tf.gather(seeded([10, 4], 6), tf.tensor([], [0], 'int32')));
  });

  it('rejects out-of-range ids as cpu does', async () => {
    await tf.setBackend('native');
    expect(() => tf.gather(tf.ones([4, 2]), tf.tensor([1, 4], [2], 'int32'))).toThrow(/not in \[0, 3\]/);
  });

  it('sums segments like cpu, including repeated and dropped ids', async () => {
    await expectSameOnBothBackends(() =>
      tf.unsortedSegmentSum(seeded([5, 3], 7), tf.tensor([2, 0, 2, 1, 2], [5], 'int32'), 4));
  });

  it('gives cpu embedding gradients (gather -> unsortedSegmentSum) through tf.grad', async () => {
    await expectSameOnBothBackends(() => {
      const ids = tf.tensor([[1, 2, 1], [0, 1, 5]], [2, 3], 'int32');
      const weights = seeded([2, 3, 4], 8);
      const f = (table: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.gather(table, ids), weights)); // [B, T, D]
      return tf.grad(f)(seeded([6, 4], 9));
    });
  });
});
