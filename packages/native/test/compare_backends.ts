// Test helpers: run the same tensor program on `native` and `cpu` and compare, and the skip-or-fail rule for a
// missing addon.
import * as tf from '@tensorflow/tfjs';

import { isNativeAvailable, nativeInfo } from '../src/index';

/**
 * `describe` when the addon is built; otherwise `describe.skip` with a visible message. Under CI (process.env.CI
 * set) a missing addon is an error: CI installs OpenBLAS, so the addon must be there.
 */
export function describeNative(title: string): jest.Describe {
  if (isNativeAvailable()) return describe;
  const reason = nativeInfo().loadError ?? 'unknown';
  if (process.env['CI']) {
    throw new Error(`@rlhfjs/native: addon missing under CI (${reason}); CI must build it (libopenblas-dev + node-gyp)`);
  }
  console.warn(`SKIPPED ${title}: the @rlhfjs/native addon is not built (${reason})`);
  return describe.skip;
}

/** Deterministic values in [-scale, scale) from a linear congruential generator. */
export function seededValues(size: number, seed: number, scale = 1): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = ((state / 4294967296) * 2 - 1) * scale;
  }
  return values;
}

export type Program = () => tf.Tensor | tf.Tensor[];

/** Runs `program` inside tidy on `backendName`; returns each output's values and shape. */
export async function runOn(backendName: string, program: Program): Promise<{ values: Float32Array; shape: number[] }[]> {
  await tf.setBackend(backendName);
  const outputs = tf.tidy(program);
  const list = Array.isArray(outputs) ? outputs : [outputs];
  const result = list.map((tensor) => ({ values: Float32Array.from(tensor.dataSync()), shape: tensor.shape.slice() }));
  tf.dispose(list);
  return result;
}

/**
 * Normwise relative error max_i |actual_i - expected_i| / max_i |expected_i| (the infinity-norm error float32
 * GEMMs are judged by: OpenBLAS accumulates in float32, the cpu backend in double, so single elements that cancel
 * to near zero differ by a few ulps of the tensor's scale, not of their own). NaN must match NaN.
 */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  let maximum = 0;
  for (const value of expected) if (Number.isFinite(value)) maximum = Math.max(maximum, Math.abs(value));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const a = actual[i] as number;
    if (Object.is(e, a) || e === a || (Number.isNaN(e) && Number.isNaN(a))) continue;
    if (!Number.isFinite(e) || !Number.isFinite(a)) return Infinity;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(maximum, 1e-30));
  }
  return worst;
}

/** Asserts that `program` gives the same shapes and values (within `tolerance`) on native and cpu. */
export async function expectSameOnBothBackends(program: Program, tolerance = 1e-5): Promise<void> {
  const native = await runOn('native', program);
  const cpu = await runOn('cpu', program);
  expect(native.length).toBe(cpu.length);
  cpu.forEach((expected, i) => {
    const actual = native[i]!;
    expect(actual.shape).toEqual(expected.shape);
    expect(actual.values.length).toBe(expected.values.length);
    expect(relativeError(actual.values, expected.values)).toBeLessThanOrEqual(tolerance);
  });
}

/** A tensor of `shape` holding seeded values, created on the current backend. */
export function seeded(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(seededValues(shape.reduce((p, q) => p * q, 1), seed, scale), shape);
}
