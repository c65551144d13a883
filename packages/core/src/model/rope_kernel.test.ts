import * as tf from '@tensorflow/tfjs';
import { applyRope, ropeKernelName, ropeTables } from './rope';

/** Whether the optional native addon is built (required by a computed name: core does not depend on native). */
function nativeBuilt(): boolean {
  try {
    const native = require(['@rlhfjs', 'native'].join('/')) as { isNativeAvailable(): boolean };
    return native.isNativeAvailable();
  } catch {
    return false;
  }
}

function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.sin(seed * 7.1 + i * 0.29);
  return out;
}

/** rotate_half as HF writes it: x·cos + [−x₂, x₁]·sin. */
const plainRope = (x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor => tf.tidy(() => {
  const half = (x.shape[3] as number) / 2;
  const [first, second] = tf.split(x, [half, half], 3);
  return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(second as tf.Tensor), first as tf.Tensor], 3), sin));
});

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe('applyRope', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('keeps each pair\'s norm (a rotation) on the portable path', async () => {
    await tf.setBackend('cpu');
    const positions = tf.tensor2d([[0, 1, 2, 7]], [1, 4], 'int32');
    const { cos, sin } = ropeTables(positions, 8, { theta: 10000, scaling: { type: 'default' }, parameters: {} });
    const x = tf.tensor4d(values(2 * 4 * 8, 1), [1, 2, 4, 8]);
    const y = applyRope(x, cos, sin);
    const pairNorms = (t: tf.Tensor): Float32Array => tf.tidy(() => {
      const [a, b] = tf.split(t, 2, 3);
      return tf.add(tf.square(a as tf.Tensor), tf.square(b as tf.Tensor)).dataSync() as Float32Array;
    });
    const before = pairNorms(x);
    pairNorms(y).forEach((norm, i) => expect(Math.abs(norm - (before[i] as number))).toBeLessThan(1e-5));
    tf.dispose([positions, cos, sin, x, y]);
  });

  (nativeBuilt() || process.env['CI'] ? it : it.skip)('native kernel: same values and gradient as the plain composition', async () => {
    await tf.setBackend('native');
    expect(tf.getKernel(ropeKernelName, 'native')).toBeDefined();
    const positions = tf.tensor2d([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]], [2, 10], 'int32');
    const { cos, sin } = ropeTables(positions, 16, { theta: 10000, scaling: { type: 'default' }, parameters: {} });
    const x = tf.tensor4d(values(2 * 3 * 10 * 16, 2), [2, 3, 10, 16]);
    const upstream = tf.tensor4d(values(2 * 3 * 10 * 16, 3), [2, 3, 10, 16]);
    const before = tf.memory().numTensors;
    const loss = (f: (t: tf.Tensor4D) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(f(t as tf.Tensor4D), upstream));
    // tables made (and disposed) inside the forward pass, as the model does: the backward must still have them
    const withOwnTables = (t: tf.Tensor4D): tf.Tensor => tf.tidy(() => {
      const tables = ropeTables(positions, 16, { theta: 10000, scaling: { type: 'default' }, parameters: {} });
      return applyRope(t, tables.cos, tables.sin);
    });
    const fused = tf.valueAndGrad(loss(withOwnTables))(x);
    const plain = tf.valueAndGrad(loss((t) => plainRope(t, cos, sin)))(x);
    const fusedValue = applyRope(x, cos, sin);
    const plainValue = plainRope(x, cos, sin);
    expect(maxDifference(fusedValue, plainValue)).toBeLessThan(1e-6);
    expect(maxDifference(fused.grad, plain.grad)).toBeLessThan(1e-6);
    expect(maxDifference(fused.value, plain.value)).toBeLessThan(1e-4);
    const profile = await tf.profile(() => tf.dispose(tf.grad(loss((t) => applyRope(t, cos, sin)))(x)));
    expect(profile.kernels.filter((kernel) => kernel.name === ropeKernelName).length).toBe(2); // forward and backward
    tf.dispose([fused.value, fused.grad, plain.value, plain.grad, fusedValue, plainValue]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([positions, cos, sin, x, upstream]);
  });
});
