import * as tf from '@tensorflow/tfjs';

import { describeNative, expectSameOnBothBackends, seeded } from '../../test/compare_backends';

// Shapes large enough that the C++ kernels split the work over threads, along each of the ways they split it.
describeNative('native kernels split over threads')('native kernels split over threads', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('binary ops: many rows with broadcasting, few long rows, and a scalar operand', async () => {
    await expectSameOnBothBackends(() => tf.add(seeded([64, 3, 700], 1), seeded([3, 1], 2))); // rows split
    await expectSameOnBothBackends(() => tf.mul(seeded([2, 100000], 3), seeded([100000], 4))); // each row split
    await expectSameOnBothBackends(() => tf.sub(seeded([70001], 5), tf.scalar(0.25))); // one row split
    await expectSameOnBothBackends(() => tf.div(seeded([5, 1, 40000], 6), seeded([3, 1], 7, 1).add(2))); // [5, 3, 40000]
  });

  it('unary ops over a long vector', async () => {
    await expectSameOnBothBackends(() => tf.tanh(seeded([100001], 8, 4)));
    await expectSameOnBothBackends(() => tf.exp(seeded([1000, 257], 9, 3)));
  });

  it('reductions over rows (many blocks) and over columns (a bias gradient: inner positions split)', async () => {
    await expectSameOnBothBackends(() => tf.sum(seeded([1200, 301], 10), -1));
    await expectSameOnBothBackends(() => tf.max(seeded([1200, 301], 11), -1));
    await expectSameOnBothBackends(() => tf.sum(seeded([256, 3072], 12), 0));
    await expectSameOnBothBackends(() => tf.mean(seeded([3, 256, 300], 13), 1));
    await expectSameOnBothBackends(() => tf.min(seeded([2, 300, 400], 14), 1));
  });

  it('softmax over many rows', async () => {
    await expectSameOnBothBackends(() => tf.softmax(seeded([2000, 129], 15, 6)));
  });
});
