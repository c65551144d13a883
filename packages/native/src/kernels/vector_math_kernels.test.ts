import * as tf from '@tensorflow/tfjs';

import { describeNative, expectSameOnBothBackends, runOn, seeded, seededValues } from '../../test/compare_backends';
import { targetLogProbsGradKernelName, targetLogProbsKernelName } from './fused_kernels';

// The kernels on the vectorised exp (native/fast_math.h): wide value ranges (results that flush to 0), −∞ entries,
// and row lengths that are not multiples of the 16-lane maximum or the 256-element exp blocks.
describeNative('native kernels on the vectorised exp')('native kernels on the vectorised exp', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('softmax over rows spanning hundreds of nats, with −∞ entries, of odd length', async () => {
    const values = seededValues(3 * 1001, 21, 150); // [3, 1001] in [−150, 150): most entries underflow to 0
    values[5] = -Infinity;
    values[1001 + 1000] = -Infinity;
    await expectSameOnBothBackends(() => tf.softmax(tf.tensor2d(values, [3, 1001])), 1e-6);
    const [native] = await runOn('native', () => tf.softmax(tf.tensor2d(values, [3, 1001])));
    expect(native?.values[5]).toBe(0);
    const rowSums = [0, 1, 2].map((r) => native!.values.slice(r * 1001, (r + 1) * 1001).reduce((p, q) => p + q, 0));
    rowSums.forEach((sum) => expect(sum).toBeCloseTo(1, 5));
  });

  it('target log-probs and their gradient match log-softmax and (one-hot − softmax)/τ from plain ops', async () => {
    const rows = 3, vocab = 5003, temperature = 0.7;
    const values = seededValues(rows * vocab, 22, 40);
    values[2 * vocab + 17] = -Infinity;
    const targets = [7, -1, 5002];
    const dy = [0.5, 2, -1.5];
    const fused = (): tf.Tensor[] => {
      const logits = tf.tensor2d(values, [rows, vocab]);
      const targetTensor = tf.tensor1d(targets, 'int32');
      const [logProbs, logSumExp] = tf.engine().runKernel(targetLogProbsKernelName, { logits, targets: targetTensor }, { temperature }) as tf.Tensor[];
      const grad = tf.engine().runKernel(targetLogProbsGradKernelName,
        { logits, targets: targetTensor, logSumExp: logSumExp as tf.Tensor, dy: tf.tensor1d(dy) }, { temperature }) as tf.Tensor;
      return [logProbs as tf.Tensor, grad];
    };
    // Reference: log-softmax and softmax of logits/τ from plain ops on cpu, picked and combined here.
    const plain = (): tf.Tensor[] => {
      const logSoftmax = tf.logSoftmax(tf.div(tf.tensor2d(values, [rows, vocab]), temperature)); // [R, V]
      return [logSoftmax, tf.exp(logSoftmax)];
    };
    const [nativeLogProbs, nativeGrad] = await runOn('native', fused);
    const [logSoftmax, softmax] = await runOn('cpu', plain);
    targets.forEach((target, r) => {
      const expected = target < 0 ? 0 : (logSoftmax!.values[r * vocab + target] as number);
      expect(nativeLogProbs!.values[r]).toBeCloseTo(expected, 3);
    });
    const expectedGrad = new Float32Array(rows * vocab);
    targets.forEach((target, r) => {
      if (target < 0) return;
      const coefficient = (dy[r] as number) / temperature;
      for (let j = 0; j < vocab; j++) expectedGrad[r * vocab + j] = coefficient * ((j === target ? 1 : 0) - (softmax!.values[r * vocab + j] as number));
    });
    let worst = 0;
    for (let i = 0; i < rows * vocab; i++) worst = Math.max(worst, Math.abs((nativeGrad!.values[i] as number) - (expectedGrad[i] as number)));
    expect(worst).toBeLessThan(1e-6);
    expect(Math.abs(nativeGrad!.values[2 * vocab + 17] as number)).toBe(0); // e^−∞ = 0 exactly
    expect(nativeGrad!.values.slice(vocab, 2 * vocab).every((v) => v === 0)).toBe(true); // target −1: no gradient
  });

  it('GELU and sigmoid over a long vector agree with the formula in plain ops and the cpu kernel', async () => {
    const x = (): tf.Tensor => seeded([70001], 23, 12);
    const [gelu] = await runOn('native', () => tf.engine().runKernel('RlhfjsGeluNew', { x: x() }) as tf.Tensor);
    // gelu_new(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    const [expected] = await runOn('cpu', () => {
      const v = x();
      return tf.mul(tf.mul(0.5, v), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(v, tf.mul(0.044715, tf.pow(v, 3)))))));
    });
    let worst = 0;
    for (let i = 0; i < 70001; i++) worst = Math.max(worst, Math.abs((gelu!.values[i] as number) - (expected!.values[i] as number)));
    expect(worst).toBeLessThan(1e-5);
    await expectSameOnBothBackends(() => tf.sigmoid(x()), 1e-6);
  });
});
