import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { layerNorm, rmsNorm } from '../model/norms';
import { fusedNorm, hasFusedNorm, normKernelName } from './fused_norm';

/** Whether the optional native addon is built (required by a computed name: core does not depend on native). */
function nativeBuilt(): boolean {
  try {
    const native = require(['@rlhfjs', 'native'].join('/')) as { isNativeAvailable(): boolean };
    return native.isNativeAvailable();
  } catch {
    return false;
  }
}

function values(size: number, seed: number, scale = 2, offset = 0): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = offset + scale * Math.sin(seed * 7.1 + i * 0.53);
  return out;
}

/** The plain tfjs compositions (what layerNorm/rmsNorm run on backends without the fused kernels). */
const plainLayerNorm = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, epsilon: number): tf.Tensor => tf.tidy(() => {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), w), b);
});
const plainRmsNorm = (x: tf.Tensor, w: tf.Tensor, epsilon: number): tf.Tensor => tf.tidy(() =>
  tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), epsilon))), w));

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe('fused LayerNorm / RMSNorm', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('is not used on the cpu backend (the plain composition runs there)', () => {
    const x = tf.zeros([2, 3]);
    expect(hasFusedNorm(x)).toBe(false);
    x.dispose();
  });

  (nativeBuilt() || process.env['CI'] ? it : it.skip)('native: values and every gradient equal the plain compositions', async () => {
    await tf.setBackend('native');
    try {
      expect(tf.getKernel(normKernelName, 'native')).toBeDefined();
      // [B, T, D] with an offset mean, rows enough to split over threads
      const x = tf.tensor3d(values(4 * 80 * 96, 1, 2, 0.7), [4, 80, 96]);
      const w = tf.tensor1d(values(96, 2, 0.5, 1));
      const b = tf.tensor1d(values(96, 3, 0.3));
      const upstream = tf.tensor3d(values(4 * 80 * 96, 4, 1), [4, 80, 96]);
      expect(hasFusedNorm(x)).toBe(true);
      const before = tf.memory().numTensors;
      const cases: Array<[string, (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor, (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
        ['layerNorm', (xs, ws, bs) => layerNorm(xs, ws, bs, 1e-5), (xs, ws, bs) => plainLayerNorm(xs, ws, bs, 1e-5)],
        ['rmsNorm', (xs, ws, bs) => tf.add(rmsNorm(xs, ws, 1e-6), tf.mul(bs, 0)), (xs, ws, bs) => tf.add(plainRmsNorm(xs, ws, 1e-6), tf.mul(bs, 0))],
      ];
      for (const [name, fused, plain] of cases) {
        const loss = (f: typeof fused) => (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.mul(f(xs, ws, bs), upstream));
        const fusedGrads = tf.grads(loss(fused))([x, w, b]);
        const plainGrads = tf.grads(loss(plain))([x, w, b]);
        const fusedValue = tf.tidy(() => fused(x, w, b));
        const plainValue = tf.tidy(() => plain(x, w, b));
        const errors = [maxDifference(fusedValue, plainValue), ...fusedGrads.map((g, i) => maxDifference(g, plainGrads[i] as tf.Tensor))];
        // value and dx to float32 rounding; dWeight/dBias are sums over 320 rows
        const limits = [1e-5, 1e-4, 1e-3, 1e-3];
        errors.forEach((error, i) => {
          if (!(error < (limits[i] as number))) throw new Error(`${name}: output ${i} differs by ${error}`);
        });
        tf.dispose([...fusedGrads, ...plainGrads, fusedValue, plainValue]);
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(() => fusedNorm(x, b.slice([0], [10]), null, 1e-5)).toThrow(ShapeError);
      tf.dispose([x, w, b, upstream]);
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
