import * as tf from '@tensorflow/tfjs';

import { nativeInfo } from '../binding/native_addon';
import { describeNative, expectSameOnBothBackends, runOn, relativeError, seeded } from '../../test/compare_backends';

describeNative('native BatchMatMul and _FusedMatMul')('native BatchMatMul and _FusedMatMul', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches cpu on the transformer projection [8*128, 256] x [256, 768]', async () => {
    await expectSameOnBothBackends(() => tf.matMul(seeded([1024, 256], 1), seeded([256, 768], 2)));
  });

  it('matches cpu on attention scores [B*H, T, dh] x [B*H, T, dh]^T and the other transpose cases', async () => {
    for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      await expectSameOnBothBackends(() => {
        const a = seeded(transposeA ? [32, 64, 128] : [32, 128, 64], 3);
        const b = seeded(transposeB ? [32, 128, 64] : [32, 64, 128], 4);
        return tf.matMul(a, b, transposeA, transposeB);
      });
    }
  });

  it('matches cpu on many small entries split over threads (odd batch, every transpose) and keeps OpenBLAS threads', async () => {
    const threads = nativeInfo().threads;
    for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      await expectSameOnBothBackends(() => {
        const a = seeded(transposeA ? [7, 9, 5] : [7, 5, 9], 30);
        const b = seeded(transposeB ? [7, 6, 9] : [7, 9, 6], 31);
        return tf.matMul(a, b, transposeA, transposeB); // [7, 5, 6]
      });
    }
    await expectSameOnBothBackends(() => tf.matMul(seeded([1, 5, 9], 32), seeded([3, 9, 6], 33))); // a broadcast over b's batch
    expect(nativeInfo().threads).toBe(threads);
  });

  it('matches cpu for rank-2 transposes and rank-4 batches', async () => {
    await expectSameOnBothBackends(() => tf.matMul(seeded([7, 5], 5), seeded([3, 7], 6), true, true));
    await expectSameOnBothBackends(() => tf.matMul(seeded([2, 3, 4, 5], 7), seeded([2, 3, 6, 5], 8), false, true));
  });

  it('broadcasts batch dims [1, ...] against [n, ...] as cpu does', async () => {
    await expectSameOnBothBackends(() => tf.matMul(seeded([1, 3, 4], 9), seeded([5, 4, 2], 10)));
    await expectSameOnBothBackends(() => tf.matMul(seeded([5, 3, 4], 11), seeded([1, 4, 2], 12), false, false));
    await expectSameOnBothBackends(() => tf.matMul(seeded([3, 4], 13), seeded([2, 5, 4, 6], 14)));
  });

  it('broadcasts [2, 1] batch dims against [1, 3] like explicitly tiled inputs', async () => {
    const native = await runOn('native', () => tf.matMul(seeded([2, 1, 4, 5], 15), seeded([1, 3, 5, 6], 16)));
    const tiled = await runOn('cpu', () =>
      tf.matMul(tf.tile(seeded([2, 1, 4, 5], 15), [1, 3, 1, 1]), tf.tile(seeded([1, 3, 5, 6], 16), [2, 1, 1, 1])));
    expect(native[0]!.shape).toEqual([2, 3, 4, 6]);
    expect(relativeError(native[0]!.values, tiled[0]!.values)).toBeLessThanOrEqual(1e-5);
  });

  it('handles empty dims: no rows, zero inner size (all zeros) and zero batch', async () => {
    await expectSameOnBothBackends(() => tf.matMul(tf.zeros([0, 4]), seeded([4, 3], 17)));
    await expectSameOnBothBackends(() => tf.matMul(seeded([3, 0], 18), seeded([0, 2], 19)));
    await expectSameOnBothBackends(() => tf.matMul(tf.zeros([0, 3, 4]), seeded([0, 4, 2], 20)));
    const zeros = await runOn('native', () => tf.matMul(tf.ones([3, 0]), tf.ones([0, 2])));
    expect(Array.from(zeros[0]!.values)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('rejects mismatched inner dims like cpu', async () => {
    await tf.setBackend('native');
    expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2]))).toThrow(/inner shapes/);
  });

  it('fuses bias and every tfjs activation as the cpu backend defines them', async () => {
    const activations = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'] as const;
    for (const activation of activations) {
      await expectSameOnBothBackends(() => tf.fused.matMul({
        a: seeded([2, 6, 8], 21, 2), b: seeded([8, 5], 22, 2), bias: seeded([5], 23), activation,
        preluActivationWeights: activation === 'prelu' ? seeded([5], 24) : undefined, leakyreluAlpha: 0.3,
      }));
    }
  });

  it('fuses biases that broadcast over rows as well as over columns, and no bias', async () => {
    await expectSameOnBothBackends(() => tf.fused.matMul({ a: seeded([6, 8], 25), b: seeded([5, 8], 26), transposeB: true,
      bias: seeded([6, 1], 27), activation: 'relu' }));
    await expectSameOnBothBackends(() => tf.fused.matMul({ a: seeded([8, 6], 28), b: seeded([8, 5], 29), transposeA: true,
      activation: 'sigmoid' }));
  });

  it('gives cpu gradients through tf.grad of matmuls with transposes and a fused layer', async () => {
    await expectSameOnBothBackends(() => {
      const a = seeded([2, 5, 4], 30);
      const b = seeded([2, 3, 4], 31);
      const w = seeded([5, 3], 32);
      const bias = seeded([3], 33);
      const f = (x: tf.Tensor, y: tf.Tensor, weight: tf.Tensor, bi: tf.Tensor): tf.Scalar => {
        const scores = tf.matMul(x, y, false, true); // [2, 5, 3]
        const hidden = tf.fused.matMul({ a: scores.reshape([10, 3]), b: weight, transposeB: true, bias: tf.zeros([5]),
          activation: 'relu' }); // [10, 5]
        return tf.sum(tf.mul(tf.matMul(hidden, weight), bi));
      };
      return tf.grads(f)([a, b, w, bias]);
    });
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('native');
    const a = seeded([4, 3], 34);
    const b = seeded([3, 2], 35);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.matMul(a, b).dispose();
      tf.fused.matMul({ a, b, bias: tf.ones([4, 1]), activation: 'prelu', preluActivationWeights: tf.ones([2]) }).dispose();
    }
    // the two tf.ones above are the only new tensors per iteration
    expect(tf.memory().numTensors).toBe(before + 6);
    tf.dispose([a, b]);
  });
});
