import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { geluNew, geluNewKernelName, siluMul, siluMulKernelName } from './fused_activations';

/** Whether the optional native addon is built (required by a computed name: core does not depend on native). */
function nativeBuilt(): boolean {
  try {
    const native = require(['@rlhfjs', 'native'].join('/')) as { isNativeAvailable(): boolean };
    return native.isNativeAvailable();
  } catch {
    return false;
  }
}

function values(size: number, seed: number, scale = 4): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = scale * Math.sin(seed * 7.1 + i * 0.61);
  return out;
}

/** The plain compositions the fused ops replace; tf.grad differentiates them op by op. */
const plainGelu = (x: tf.Tensor): tf.Tensor => tf.tidy(() => {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
});
const plainSiluMul = (g: tf.Tensor, u: tf.Tensor): tf.Tensor => tf.tidy(() => tf.mul(tf.mul(g, tf.sigmoid(g)), u));

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

async function checkAgainstPlain(size: number): Promise<void> {
  const x = tf.tensor1d(values(size, 1));
  const u = tf.tensor1d(values(size, 2, 2));
  const weights = tf.tensor1d(values(size, 3, 1));
  const before = tf.memory().numTensors;
  const geluLoss = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(f(t), weights));
  const fusedGelu = tf.valueAndGrad(geluLoss(geluNew))(x);
  const expectedGelu = tf.valueAndGrad(geluLoss(plainGelu))(x);
  expect(maxDifference(fusedGelu.value, expectedGelu.value)).toBeLessThan(1e-4 * Math.sqrt(size));
  expect(maxDifference(fusedGelu.grad, expectedGelu.grad)).toBeLessThan(1e-5);
  const siluLoss = (f: (g: tf.Tensor, v: tf.Tensor) => tf.Tensor) => (g: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(f(g, v), weights));
  const fusedSilu = tf.grads(siluLoss(siluMul))([x, u]);
  const expectedSilu = tf.grads(siluLoss(plainSiluMul))([x, u]);
  fusedSilu.forEach((gradient, i) => expect(maxDifference(gradient, expectedSilu[i] as tf.Tensor)).toBeLessThan(1e-5));
  const forward = [geluNew(x), plainGelu(x), siluMul(x, u), plainSiluMul(x, u)];
  expect(maxDifference(forward[0] as tf.Tensor, forward[1] as tf.Tensor)).toBeLessThan(1e-5);
  expect(maxDifference(forward[2] as tf.Tensor, forward[3] as tf.Tensor)).toBeLessThan(1e-5);
  tf.dispose([fusedGelu.value, fusedGelu.grad, expectedGelu.value, expectedGelu.grad, ...fusedSilu, ...expectedSilu, ...forward]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, u, weights]);
}

describe('fused geluNew and siluMul', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gelu gradient agrees with a central finite difference (at 0, small, and large |x|)', () => {
    const points = [0, 1e-3, -0.5, 1.3, -3, 6];
    const grad = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(geluNew(t)))(tf.tensor1d(points)).dataSync());
    const gelu = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    points.forEach((v, i) => expect(Math.abs((gelu(v + 1e-4) - gelu(v - 1e-4)) / 2e-4 - (grad[i] as number))).toBeLessThan(1e-4));
  });

  it('siluMul names both shapes when they differ', () => {
    const gate = tf.zeros([2, 3]);
    const up = tf.zeros([3, 2]);
    expect(() => siluMul(gate, up)).toThrow(ShapeError);
    expect(() => siluMul(gate, up)).toThrow(/\[2,3\].*\[3,2\]/);
    tf.dispose([gate, up]);
  });

  (nativeBuilt() || process.env['CI'] ? it : it.skip)('native kernels: same values and gradients, over threads', async () => {
    await tf.setBackend('native');
    try {
      expect(tf.getKernel(geluNewKernelName, 'native')).toBeDefined();
      expect(tf.getKernel(siluMulKernelName, 'native')).toBeDefined();
      await checkAgainstPlain(100003);
      const x = tf.tensor1d(values(64, 4));
      const profile = await tf.profile(() => {
        tf.dispose(tf.grad((t: tf.Tensor) => tf.sum(geluNew(t)))(x));
        tf.dispose(tf.grads((g: tf.Tensor, u: tf.Tensor) => tf.sum(siluMul(g, u)))([x, x]));
      });
      expect(profile.kernelNames).toEqual(expect.arrayContaining([geluNewKernelName, `${geluNewKernelName}Grad`, siluMulKernelName, `${siluMulKernelName}Grad`]));
      x.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
