import * as tf from '@tensorflow/tfjs';

import { ConfigError } from '../errors/errors';
import { clipGradNorm } from './clip_grad_norm';

describe('clipGradNorm', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  // ‖[3, 4]‖ = 5 and ‖[[12]]‖ = 12, so the global norm is √(25 + 144) = 13.
  const makeGrads = (): tf.NamedTensorMap => ({
    a: tf.tensor1d([3, 4]),
    b: tf.tensor2d([[12]]),
  });

  it('scales every gradient by maxNorm / (norm + 1e-6) and returns the pre-clip norm', () => {
    const grads = makeGrads();
    const result = clipGradNorm(grads, 6.5);
    expect(result.totalNorm).toBeCloseTo(13, 10);
    expect(result.clipped).toBe(true);
    const coefficient = 6.5 / (13 + 1e-6);
    const a = result.grads.a!.dataSync();
    expect(a[0]).toBeCloseTo(3 * coefficient, 6);
    expect(a[1]).toBeCloseTo(4 * coefficient, 6);
    expect(result.grads.b!.shape).toEqual([1, 1]);
    expect(result.grads.b!.dataSync()[0]).toBeCloseTo(12 * coefficient, 5);
    // The clipped set has norm maxNorm (up to the 1e-6 epsilon).
    const clippedNorm = Math.hypot(a[0]!, a[1]!, result.grads.b!.dataSync()[0]!);
    expect(clippedNorm).toBeCloseTo(6.5, 5);
    // New tensors: the inputs are untouched and still alive.
    expect(result.grads.a).not.toBe(grads.a);
    expect(Array.from(grads.a!.dataSync())).toEqual([3, 4]);
    tf.dispose([grads, result.grads]);
  });

  it('returns the same map and tensors when the norm is within maxNorm', () => {
    const grads = makeGrads();
    const result = clipGradNorm(grads, 20);
    expect(result.clipped).toBe(false);
    expect(result.grads).toBe(grads);
    expect(result.totalNorm).toBeCloseTo(13, 10);
    // With maxNorm equal to the norm, 13 / (13 + 1e-6) is just below 1, so it scales (by a factor within 1e-7
    // of 1), as torch does.
    const atBoundary = clipGradNorm(grads, 13);
    expect(atBoundary.clipped).toBe(true);
    expect(atBoundary.grads.a!.dataSync()[1]).toBeCloseTo(4, 5);
    tf.dispose([grads, atBoundary.grads]);
  });

  it('reports a non-finite norm without throwing and leaves the gradients as they are', () => {
    const withNaN = { a: tf.tensor1d([1, NaN]) };
    const nanResult = clipGradNorm(withNaN, 1);
    expect(Number.isNaN(nanResult.totalNorm)).toBe(true);
    expect(nanResult.grads).toBe(withNaN);
    expect(nanResult.clipped).toBe(false);
    const withInfinity = { a: tf.tensor1d([1, Infinity]), b: tf.tensor1d([2]) };
    const infinityResult = clipGradNorm(withInfinity, 1);
    expect(infinityResult.totalNorm).toBe(Infinity);
    expect(infinityResult.grads).toBe(withInfinity);
    tf.dispose([withNaN, withInfinity]);
  });

  it('handles an empty map and rejects a bad maxNorm', () => {
    expect(clipGradNorm({}, 1)).toEqual({
      grads: {},
      totalNorm: 0,
      clipped: false,
    });
    expect(() => clipGradNorm({}, 0)).toThrow(ConfigError);
    expect(() => clipGradNorm({}, NaN)).toThrow(ConfigError);
  });

  it('does not leak: only the returned tensors are new', () => {
    const grads = makeGrads();
    const before = tf.memory().numTensors;
    for (let call = 0; call < 5; call += 1) {
      const clipped = clipGradNorm(grads, 1);
      expect(tf.memory().numTensors).toBe(before + 2);
      tf.dispose(clipped.grads);
      clipGradNorm(grads, 100);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose(grads);
  });
});
