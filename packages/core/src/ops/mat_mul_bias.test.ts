import * as tf from '@tensorflow/tfjs';
import { setBackendCapabilities } from '../backend/capabilities';
import { ShapeError } from '../errors/errors';
import { matMul2dBias } from './mat_mul_bias';

function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.sin(seed * 5.3 + i * 0.41);
  return out;
}

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe('matMul2dBias', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    setBackendCapabilities('cpu', { fastBatchedMatMul: true, fastScatter: false });
  });

  for (const fast of [true, false]) {
    it(`a @ b + bias and the gradients of a, b and bias equal plain tfjs ops (fast GEMM flags: ${fast})`, () => {
      setBackendCapabilities('cpu', { fastBatchedMatMul: fast, fastScatter: false });
      const a = tf.tensor2d(values(5 * 3, 1), [5, 3]); // [M, K]
      const b = tf.tensor2d(values(3 * 4, 2), [3, 4]); // [K, N]
      const bias = tf.tensor1d(values(4, 3)); // [N]
      const weights = tf.tensor2d(values(5 * 4, 4), [5, 4]); // [M, N] weights of the scalar loss
      const before = tf.memory().numTensors;
      const lossOf = (f: (x: tf.Tensor2D, y: tf.Tensor2D, z: tf.Tensor1D) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(tf.mul(tf.square(f(x as tf.Tensor2D, y as tf.Tensor2D, z as tf.Tensor1D)), weights)) as tf.Scalar;
      const fused = tf.grads(lossOf(matMul2dBias))([a, b, bias]);
      const plain = tf.grads(lossOf((x, y, z) => tf.add(tf.matMul(x, y), z)))([a, b, bias]);
      const forward = tf.tidy(() => maxDifference(matMul2dBias(a, b, bias), tf.add(tf.matMul(a, b), bias)));
      expect(forward).toBeLessThan(1e-6);
      for (let i = 0; i < 3; i++) expect(maxDifference(fused[i] as tf.Tensor, plain[i] as tf.Tensor)).toBeLessThan(1e-5);
      expect((fused[2] as tf.Tensor).shape).toEqual([4]);
      tf.dispose([...fused, ...plain]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, b, bias, weights]);
    });
  }

  it('a frozen weight and bias get no gradient; the input gradient equals plain tfjs ops; no tensors leak', () => {
    const x = tf.variable(tf.tensor2d(values(6 * 3, 5), [6, 3]), true, 'mat_mul_bias_x'); // [M, K]
    const w = tf.variable(tf.tensor2d(values(3 * 2, 6), [3, 2]), false, 'mat_mul_bias_w'); // [K, N] frozen
    const bias = tf.variable(tf.tensor1d(values(2, 7)), false, 'mat_mul_bias_b'); // [N] frozen
    const run = (f: () => tf.Tensor) => tf.variableGrads(() => tf.sum(tf.square(f())) as tf.Scalar, [x]);
    run(() => matMul2dBias(x, w, bias)); // warm-up: kernels may cache tensors on first use
    tf.dispose(Object.values(run(() => matMul2dBias(x, w, bias)).grads));
    const before = tf.memory().numTensors;
    const fused = run(() => matMul2dBias(x, w, bias));
    const plain = run(() => tf.add(tf.matMul(x, w), bias));
    expect(Object.keys(fused.grads)).toEqual(['mat_mul_bias_x']);
    expect(maxDifference(fused.grads['mat_mul_bias_x'] as tf.Tensor, plain.grads['mat_mul_bias_x'] as tf.Tensor)).toBeLessThan(1e-5);
    expect(Math.abs((fused.value.dataSync()[0] as number) - (plain.value.dataSync()[0] as number))).toBeLessThan(1e-4);
    tf.dispose([fused.value, plain.value, ...Object.values(fused.grads), ...Object.values(plain.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, bias]);
  });

  it('a weight and bias of mixed trainability take the plain path and still give each trainable gradient', () => {
    const a = tf.tensor2d(values(4 * 3, 8), [4, 3]); // [M, K]
    const w = tf.variable(tf.tensor2d(values(3 * 2, 9), [3, 2]), false, 'mat_mul_bias_mixed_w'); // frozen
    const bias = tf.variable(tf.tensor1d(values(2, 10)), true, 'mat_mul_bias_mixed_b'); // trainable
    const { value, grads } = tf.variableGrads(() => tf.sum(matMul2dBias(a, w, bias)) as tf.Scalar, [bias]);
    expect(Array.from((grads['mat_mul_bias_mixed_b'] as tf.Tensor).dataSync())).toEqual([4, 4]); // Σ over the M rows of ones
    tf.dispose([value, ...Object.values(grads), a, w, bias]);
  });

  it('shapes that do not fit are a ShapeError naming all three shapes', () => {
    tf.tidy(() => {
      const a = tf.zeros([2, 3]) as tf.Tensor2D;
      expect(() => matMul2dBias(a, tf.zeros([4, 5]) as tf.Tensor2D, tf.zeros([5]) as tf.Tensor1D)).toThrow(ShapeError);
      expect(() => matMul2dBias(a, tf.zeros([3, 5]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D)).toThrow(/bias \[4\]/);
    });
  });
});
