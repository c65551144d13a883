import * as tf from '@tensorflow/tfjs';
import type { GradientReducer } from '@rlhfjs/core';
import golden from '../../test/fixtures/ppo_pieces.json';
import { maskedWhiten } from './whiten';
import { expectClose } from '../../test/expect_close';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Two in-process "ranks": each allReduceSum waits for the other's call and both get the element-wise sum. */
function pairedReducers(): [GradientReducer, GradientReducer] {
  let pending: { values: readonly number[]; resolve: (sum: number[]) => void } | undefined;
  const make = (rank: number): GradientReducer => ({
    rank,
    worldSize: 2,
    allReduceGradients: async () => {
      throw new Error('not used');
    },
    allReduceSum: (values) =>
      new Promise<number[]>((resolve) => {
        if (pending === undefined) {
          pending = { values, resolve };
          return;
        }
        const sum = values.map((value, index) => value + (pending!.values[index] as number));
        pending.resolve(sum);
        pending = undefined;
        resolve(sum);
      }),
  });
  return [make(0), make(1)];
}

describe('maskedWhiten', () => {
  test.each([
    [true, golden.whiten.shifted],
    [false, golden.whiten.unshifted],
  ])('shiftMean %p matches the PyTorch golden', async (shiftMean, expected) => {
    const values = tf.tensor2d(golden.whiten.values);
    const mask = tf.tensor2d(golden.whiten.mask);
    const whitened = await maskedWhiten(values, mask, { shiftMean });
    expectClose(whitened.dataSync(), expected.flat(), 'whitened');
    tf.dispose([values, mask, whitened]);
  });

  test('two ranks whitening halves over a summing reducer equal one rank whitening the whole batch', async () => {
    const values = tf.tensor2d(golden.whiten.values);
    const mask = tf.tensor2d(golden.whiten.mask);
    const [top, bottom] = tf.split(values, 2, 0) as [tf.Tensor2D, tf.Tensor2D]; // [2, T] each
    const [topMask, bottomMask] = tf.split(mask, 2, 0) as [tf.Tensor2D, tf.Tensor2D]; // [2, T] each
    const [rank0, rank1] = pairedReducers();
    const [first, second] = await Promise.all([
      maskedWhiten(top, topMask, { reducer: rank0 }),
      maskedWhiten(bottom, bottomMask, { reducer: rank1 }),
    ]);
    const whole = await maskedWhiten(values, mask);
    expectClose([...first.dataSync(), ...second.dataSync()], Array.from(whole.dataSync()), 'two ranks vs one');
    // and local-only whitening of a half differs (the test would catch a reducer that is ignored)
    const local = await maskedWhiten(top, topMask);
    expect(Math.abs((local.dataSync()[0] as number) - (first.dataSync()[0] as number))).toBeGreaterThan(1e-3);
    tf.dispose([values, mask, top, bottom, topMask, bottomMask, first, second, whole, local]);
  });

  test('whitened masked entries have mean 0 and unbiased variance 1; masked-out entries are 0; no leaks', async () => {
    const values = tf.tensor2d(golden.whiten.values);
    const mask = tf.tensor2d(golden.whiten.mask);
    const before = tf.memory().numTensors;
    const whitened = await maskedWhiten(values, mask);
    expect(tf.memory().numTensors).toBe(before + 1);
    const data = whitened.dataSync();
    const maskData = mask.dataSync();
    const kept = Array.from(data).filter((_, index) => maskData[index] !== 0);
    const mean = kept.reduce((sum, value) => sum + value, 0) / kept.length;
    const variance = kept.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (kept.length - 1);
    expect(Math.abs(mean)).toBeLessThan(1e-5);
    expect(Math.abs(variance - 1)).toBeLessThan(1e-4);
    Array.from(data).forEach((value, index) => {
      if (maskData[index] === 0) expect(Math.abs(value)).toBe(0);
    });
    tf.dispose([values, mask, whitened]);
  });
});
