import * as tf from '@tensorflow/tfjs';

import { describeNative, expectSameOnBothBackends, seeded } from '../../test/compare_backends';

// One-row and one-column products take the sgemv path of the native GEMM (a decode step at batch 1): every
// transpose combination against the cpu backend's matmul.
describeNative('native matrix-vector products')('native matrix-vector products', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])('a row times a matrix and a matrix times a column match cpu (transposeA %s, transposeB %s)', async (transposeA, transposeB) => {
    // small: the in-thread loops; large (k·n above 2^18 elements): OpenBLAS's sgemv
    for (const [k, n] of [[37, 53], [600, 500]] as const) {
    // [1, k] @ [k, n]: the row is a (stored [k, 1] when transposed)
    await expectSameOnBothBackends(() => tf.matMul(seeded(transposeA ? [k, 1] : [1, k], 1), seeded(transposeB ? [n, k] : [k, n], 2), transposeA, transposeB));
    // [n, k] @ [k, 1]: the column is b (stored [1, k] when transposed)
    await expectSameOnBothBackends(() => tf.matMul(seeded(transposeA ? [k, n] : [n, k], 3), seeded(transposeB ? [1, k] : [k, 1], 4), transposeA, transposeB));
    }
  });

  it('batched rows, a 1×1 result and the gradients of a decode-shaped product match cpu', async () => {
    await expectSameOnBothBackends(() => tf.matMul(seeded([3, 1, 16], 5), seeded([3, 16, 24], 6))); // [B·H, 1, d] @ [B·H, d, S]
    await expectSameOnBothBackends(() => tf.matMul(seeded([1, 9], 7), seeded([9, 1], 8)));
    await expectSameOnBothBackends(() => tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w), seeded([1, 20], 11))))([seeded([1, 12], 9), seeded([12, 20], 10)]));
  });
});
