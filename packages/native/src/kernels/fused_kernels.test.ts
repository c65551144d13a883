import * as tf from '@tensorflow/tfjs';

import { describeNative, seeded } from '../../test/compare_backends';
import { adamWInPlaceKernelName, adamWKernelName } from './fused_kernels';

const attributes = {
  decays: true, decayFactor: 0.999, beta1: 0.9, beta2: 0.999, biasCorrection2Sqrt: 0.5, epsilon: 1e-8, stepSize: 0.01,
};

/** A tensor whose buffer a native kernel produced (owned by the backend), never read by the user. */
const owned = (shape: number[], seed: number): tf.Tensor => tf.tidy(() => tf.add(seeded(shape, seed), 0));

function runInPlace(param: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor): number {
  const done = tf.engine().runKernel(adamWInPlaceKernelName, { param, grad, m, v }, attributes) as tf.Tensor;
  const value = done.dataSync()[0] as number;
  done.dispose();
  return value;
}

describeNative('native AdamW kernels')('native AdamW kernels', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('updates in place only buffers nobody else can see, with the values of the allocating kernel', async () => {
    await tf.setBackend('native');
    const shape = [64, 130];
    const [param, grad, m, v] = [owned(shape, 1), owned(shape, 2), owned(shape, 3), tf.tidy(() => tf.square(seeded(shape, 4)))];
    const expected = tf.engine().runKernel(adamWKernelName, { param, grad, m, v }, attributes) as tf.Tensor[];
    const expectedValues = expected.map((tensor) => tensor.dataSync().slice());
    tf.dispose(expected);

    const alias = param.clone(); // a second reference to the parameter's buffer: must decline
    expect(runInPlace(param, grad, m, v)).toBe(0);
    alias.dispose();
    const read = m.dataSync(); // the user holds m's array now: must decline and leave it unchanged
    const snapshot = read.slice();
    expect(runInPlace(param, grad, m, v)).toBe(0);
    expect(Array.from(read)).toEqual(Array.from(snapshot));

    const m2 = owned(shape, 3); // the same values in an owned buffer
    const before = tf.memory().numTensors;
    expect(runInPlace(param, grad, m2, v)).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    [param, m2, v].forEach((tensor, i) => {
      const actual = tensor.dataSync();
      const want = expectedValues[i] as Float32Array;
      expect(actual.every((value, j) => value === want[j])).toBe(true);
    });
    tf.dispose([param, grad, m, m2, v]);
  });
});
