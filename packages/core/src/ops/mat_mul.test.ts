import * as tf from '@tensorflow/tfjs';
import { setBackendCapabilities } from '../backend/capabilities';
import { ShapeError } from '../errors/errors';
import { isFrozenWeight, matMul2d, matMul2dTransposedB } from './mat_mul';

function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.sin(seed * 7.1 + i * 0.37);
  return out;
}

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Peak bytes allocated while computing d(sum(f(x)²))/dx for every variable in `variables`. */
async function peakBackwardBytes(f: (x: tf.Tensor2D) => tf.Tensor, x: tf.Tensor2D, variables: tf.Variable[]): Promise<number> {
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(f(x))) as tf.Scalar, variables);
    tf.dispose([value, ...Object.values(grads)]);
  });
  return info.peakBytes;
}

describe('matMul2d and matMul2dTransposedB', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    setBackendCapabilities('cpu', { fastBatchedMatMul: true, fastScatter: false });
  });

  for (const fast of [true, false]) {
    it(`a @ bᵀ and both gradients equal plain tfjs ops (fast transposed GEMM: ${fast})`, () => {
      setBackendCapabilities('cpu', { fastBatchedMatMul: fast, fastScatter: false });
      const a = tf.tensor2d(values(5 * 3, 1), [5, 3]); // [M, K]
      const b = tf.tensor2d(values(4 * 3, 2), [4, 3]); // [N, K]
      const weights = tf.tensor2d(values(5 * 4, 3), [5, 4]); // [M, N] weights of the scalar loss
      const before = tf.memory().numTensors;
      const loss = (product: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(product(x as tf.Tensor2D, y as tf.Tensor2D), weights));
      const [da, db] = tf.grads(loss(matMul2dTransposedB))([a, b]);
      const [daExpected, dbExpected] = tf.grads(loss((x, y) => tf.matMul(x, tf.transpose(y))))([a, b]);
      const value = matMul2dTransposedB(a, b);
      const expected = tf.tidy(() => tf.matMul(a, tf.transpose(b)));
      expect(value.shape).toEqual([5, 4]);
      expect(maxDifference(value, expected)).toBeLessThan(1e-6);
      expect(maxDifference(da as tf.Tensor, daExpected as tf.Tensor)).toBeLessThan(1e-6);
      expect(maxDifference(db as tf.Tensor, dbExpected as tf.Tensor)).toBeLessThan(1e-6);
      tf.dispose([da, db, daExpected, dbExpected, value, expected] as tf.Tensor[]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, b, weights]);
    });
  }

  it('names both shapes when the operands do not fit', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([4, 5]) as tf.Tensor2D;
    expect(() => matMul2dTransposedB(a, b)).toThrow(ShapeError);
    expect(() => matMul2dTransposedB(a, b)).toThrow(/\[2,3\].*\[4,5\]/);
    tf.dispose([a, b]);
  });

  for (const product of [matMul2d, matMul2dTransposedB]) {
    it(`${product.name}: a frozen weight gets no gradient, dx is unchanged, and the backward pass allocates less`, async () => {
      const x = tf.variable(tf.tensor2d(values(8 * 64, 4), [8, 64])); // [N, K]
      const shape: [number, number] = product === matMul2d ? [64, 512] : [512, 64];
      const trainable = tf.variable(tf.tensor2d(values(64 * 512, 5), shape), true);
      const frozen = tf.variable(tf.tensor2d(values(64 * 512, 5), shape), false);
      expect(isFrozenWeight(frozen)).toBe(true);
      expect(isFrozenWeight(trainable)).toBe(false);
      const before = tf.memory().numTensors;
      const f = (weight: tf.Variable) => (input: tf.Tensor2D) => product(input, weight as tf.Tensor as tf.Tensor2D);
      const withTrainable = tf.variableGrads(() => tf.sum(tf.square(f(trainable)(x))) as tf.Scalar, [x, trainable]);
      const withFrozen = tf.variableGrads(() => tf.sum(tf.square(f(frozen)(x))) as tf.Scalar, [x]);
      expect(maxDifference(withFrozen.value, withTrainable.value)).toBe(0);
      expect(maxDifference(withFrozen.grads[x.name] as tf.Tensor, withTrainable.grads[x.name] as tf.Tensor)).toBeLessThan(1e-3);
      expect(withFrozen.grads[frozen.name]).toBeUndefined();
      tf.dispose([withTrainable.value, withFrozen.value, ...Object.values(withTrainable.grads), ...Object.values(withFrozen.grads)]);
      expect(tf.memory().numTensors).toBe(before);
      // The trainable weight's backward computes a [64, 512] gradient; the frozen one must not (128 KiB of floats).
      const trainablePeak = await peakBackwardBytes(f(trainable), x, [x, trainable]);
      const frozenPeak = await peakBackwardBytes(f(frozen), x, [x]);
      expect(trainablePeak - frozenPeak).toBeGreaterThanOrEqual(64 * 512 * 4);
      tf.dispose([x, trainable, frozen]);
    });
  }
});
