import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { targetLogProbs, targetLogProbsKernelName } from './target_log_probs';

/** Whether the optional native addon is built (required by a computed name: core does not depend on native). */
function nativeBuilt(): boolean {
  try {
    const native = require(['@rlhfjs', 'native'].join('/')) as { isNativeAvailable(): boolean };
    return native.isNativeAvailable();
  } catch {
    return false;
  }
}

function values(size: number, seed: number, scale = 3): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = scale * Math.sin(seed * 7.1 + i * 0.73);
  return out;
}

/** Plain tfjs reference: log-softmax, one-hot, sum; skipped rows (target −1) give 0. */
function reference(logits: tf.Tensor2D, targets: Int32Array, temperature: number): tf.Tensor1D {
  return tf.tidy(() => {
    const logSoftmax = tf.logSoftmax(tf.div(logits, temperature)); // [R, V]
    const oneHot = tf.oneHot(tf.tensor1d(Array.from(targets, (t) => Math.max(t, 0)), 'int32'), logits.shape[1]); // [R, V]
    const valid = tf.tensor1d(Array.from(targets, (t) => (t >= 0 ? 1 : 0)));
    return tf.mul(tf.sum(tf.mul(logSoftmax, oneHot), 1), valid) as tf.Tensor1D;
  });
}

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe('targetLogProbs (fused target log-prob over the vocabulary)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const rows = 6;
  const vocab = 11;
  const targets = new Int32Array([3, 0, 10, -1, 7, 7]);
  for (const temperature of [1, 0.7]) {
    for (const chunkElements of [1 << 22, 2 * vocab + 3, 1]) {
      it(`value and gradient equal log-softmax + one-hot (τ=${temperature}, chunk of ${chunkElements} logits)`, () => {
        const logits = tf.tensor2d(values(rows * vocab, 1), [rows, vocab]); // [R, V]
        const upstream = tf.tensor1d(values(rows, 2, 1)); // [R] weights of the scalar loss
        const before = tf.memory().numTensors;
        const loss = (f: (x: tf.Tensor2D) => tf.Tensor1D) => (x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D), upstream));
        const fused = tf.valueAndGrad(loss((x) => targetLogProbs(x, targets, temperature, chunkElements)))(logits);
        const plain = tf.valueAndGrad(loss((x) => reference(x, targets, temperature)))(logits);
        const value = targetLogProbs(logits, targets, temperature, chunkElements);
        const expected = reference(logits, targets, temperature);
        expect(value.shape).toEqual([rows]);
        expect(maxDifference(value, expected)).toBeLessThan(1e-5);
        expect(Math.abs(value.dataSync()[3] as number)).toBe(0); // skipped row
        expect(maxDifference(fused.value, plain.value)).toBeLessThan(1e-5);
        expect(maxDifference(fused.grad, plain.grad)).toBeLessThan(1e-5);
        // the skipped row gets no gradient; every other row's gradient sums to 0 over the vocabulary
        const rowSums = tf.tidy(() => tf.sum(fused.grad, 1).dataSync());
        rowSums.forEach((sum) => expect(Math.abs(sum)).toBeLessThan(1e-5));
        expect(Array.from(fused.grad.dataSync().slice(3 * vocab, 4 * vocab)).every((g) => g === 0)).toBe(true);
        tf.dispose([fused.value, fused.grad, plain.value, plain.grad, value, expected]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([logits, upstream]);
      });
    }
  }

  it('agrees with a central finite difference of its own value', () => {
    const logits = tf.tensor2d(values(2 * 5, 3), [2, 5]);
    const twoTargets = new Int32Array([4, 1]);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(targetLogProbs(x as tf.Tensor2D, twoTargets, 0.9)))(logits).dataSync();
    const base = logits.dataSync();
    const h = 1e-2;
    for (let i = 0; i < base.length; i++) {
      const shifted = (delta: number): number => tf.tidy(() => {
        const copy = Float32Array.from(base);
        copy[i] = (copy[i] as number) + delta;
        return tf.sum(targetLogProbs(tf.tensor2d(copy, [2, 5]), twoTargets, 0.9)).dataSync()[0] as number;
      });
      expect(Math.abs((shifted(h) - shifted(-h)) / (2 * h) - (grad[i] as number))).toBeLessThan(2e-3);
    }
    logits.dispose();
  });

  it('names the row and the vocabulary for a bad target, and the shapes for a wrong count', () => {
    const logits = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => targetLogProbs(logits, new Int32Array([1, 4]))).toThrow(ShapeError);
    expect(() => targetLogProbs(logits, new Int32Array([1, 4]))).toThrow(/target 4 of row 1.*\[0, 4\)/);
    expect(() => targetLogProbs(logits, new Int32Array([1, -2]))).toThrow(ShapeError);
    expect(() => targetLogProbs(logits, new Int32Array([1]))).toThrow(/\[2,4\].*1 targets/);
    expect(() => targetLogProbs(logits, new Int32Array([1, 2]), 0)).toThrow(/temperature/);
    logits.dispose();
  });

  (nativeBuilt() || process.env['CI'] ? it : it.skip)('the native kernel gives the same values and gradients (threads split the rows)', async () => {
    await tf.setBackend('native');
    try {
      expect(tf.getKernel(targetLogProbsKernelName, 'native')).toBeDefined();
      const manyRows = 600; // two threads' worth of rows at this vocabulary
      const width = 257;
      const manyTargets = Int32Array.from({ length: manyRows }, (_, r) => (r % 7 === 3 ? -1 : (r * 31) % width));
      const logits = tf.tensor2d(values(manyRows * width, 5), [manyRows, width]);
      const upstream = tf.tensor1d(values(manyRows, 6, 1));
      const before = tf.memory().numTensors;
      const loss = (f: (x: tf.Tensor2D) => tf.Tensor1D) => (x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D), upstream));
      for (const temperature of [1, 0.6]) {
        const fused = tf.valueAndGrad(loss((x) => targetLogProbs(x, manyTargets, temperature)))(logits);
        const plain = tf.valueAndGrad(loss((x) => reference(x, manyTargets, temperature)))(logits);
        expect(maxDifference(fused.value, plain.value)).toBeLessThan(1e-3); // a sum of 600 terms of size ~5
        expect(maxDifference(fused.grad, plain.grad)).toBeLessThan(1e-6);
        const value = targetLogProbs(logits, manyTargets, temperature);
        const expected = reference(logits, manyTargets, temperature);
        expect(maxDifference(value, expected)).toBeLessThan(1e-5);
        tf.dispose([fused.value, fused.grad, plain.value, plain.grad, value, expected]);
      }
      expect(tf.memory().numTensors).toBe(before);
      const profile = await tf.profile(() => {
        tf.dispose(tf.grad(loss((x) => targetLogProbs(x, manyTargets)))(logits));
      });
      expect(profile.kernelNames).toEqual(expect.arrayContaining([targetLogProbsKernelName, `${targetLogProbsKernelName}Grad`]));
      tf.dispose([logits, upstream]);
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
