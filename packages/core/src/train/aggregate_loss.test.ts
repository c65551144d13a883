import * as tf from '@tensorflow/tfjs';

import { ConfigError, ShapeError } from '../errors/errors';
import { aggregateLoss, maskCounts, type AggregateLossOptions, type LossAggregationMode } from './aggregate_loss';

const B = 8;
const T = 5;
// Row lengths vary, and row 5 has no mask tokens at all.
const ROW_LENGTHS = [5, 3, 1, 4, 2, 0, 5, 3];

function makeBatch(): { data: tf.Tensor2D; mask: tf.Tensor2D } {
  const data = tf.tensor2d(
    Array.from({ length: B * T }, (_, index) => Math.sin(index * 1.7) * 2),
    [B, T],
  );
  const maskValues = ROW_LENGTHS.flatMap((length) => Array.from({ length: T }, (_, t) => (t < length ? 1 : 0)));
  return { data, mask: tf.tensor2d(maskValues, [B, T]) };
}

/** Gradient, with respect to a shared parameter w [T], of the aggregated loss of (x − w)² on rows [start, end). */
function gradientOf(
  weight: tf.Tensor1D,
  data: tf.Tensor2D,
  mask: tf.Tensor2D,
  start: number,
  end: number,
  options: AggregateLossOptions,
): Float32Array {
  const gradient = tf.tidy(() => {
    const x = tf.slice(data, [start, 0], [end - start, T]); // [b, T]
    const rows = tf.slice(mask, [start, 0], [end - start, T]); // [b, T]
    return tf.grad((w: tf.Tensor) => aggregateLoss(tf.square(tf.sub(x, w)), rows, options))(weight);
  });
  const values = Float32Array.from(gradient.dataSync());
  gradient.dispose();
  return values;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let index = 0; index < a.length; index += 1) {
    max = Math.max(max, Math.abs(a[index]! - b[index]!));
  }
  return max;
}

function addInto(sum: number[] | undefined, value: Float32Array): number[] {
  return Array.from(value, (entry, index) => (sum?.[index] ?? 0) + entry);
}

describe('aggregateLoss', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gives the masked token mean and the mean of row means on a hand example', () => {
    const perToken = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    const mask = tf.tensor2d([
      [1, 1, 0],
      [1, 0, 0],
      [0, 0, 0],
    ]);
    // token: (1 + 2 + 4) / 3; sequence: (1.5 + 4) / 2, the empty row neither contributes nor counts.
    const token = aggregateLoss(perToken, mask, { mode: 'token' });
    const sequence = aggregateLoss(perToken, mask, { mode: 'sequence' });
    expect(token.dataSync()[0]).toBeCloseTo(7 / 3, 6);
    expect(sequence.dataSync()[0]).toBeCloseTo(2.75, 6);
    // With global counts of a twice-as-large step on 2 ranks: Σ / count × worldSize.
    const tokenGlobal = aggregateLoss(perToken, mask, {
      mode: 'token',
      globalTokenCount: 6,
      worldSize: 2,
    });
    const sequenceGlobal = aggregateLoss(perToken, mask, {
      mode: 'sequence',
      globalSequenceCount: 5,
      worldSize: 1,
    });
    expect(tokenGlobal.dataSync()[0]).toBeCloseTo((7 / 6) * 2, 6);
    expect(sequenceGlobal.dataSync()[0]).toBeCloseTo(5.5 / 5, 6);
    expect(maskCounts(mask)).toEqual({ tokens: 3, sequences: 2 });
    tf.dispose([perToken, mask, token, sequence, tokenGlobal, sequenceGlobal]);
  });

  it('ignores NaN and infinite per-token values where the mask is 0, and accepts an int mask', () => {
    const perToken = tf.tensor2d([[1, NaN, -Infinity]]);
    const mask = tf.tensor2d([[1, 0, 0]], [1, 3], 'int32');
    const loss = aggregateLoss(perToken, mask, { mode: 'token' });
    expect(loss.dataSync()[0]).toBe(1);
    const noTokens = tf.zerosLike(mask);
    const empty = aggregateLoss(perToken, noTokens, { mode: 'sequence' });
    expect(empty.dataSync()[0]).toBe(0);
    tf.dispose([perToken, mask, noTokens, loss, empty]);
  });

  for (const mode of ['token', 'sequence'] as LossAggregationMode[]) {
    it(`${mode} mode: 4 micro-batches of 2 with global counts sum to the 1×8 gradient`, () => {
      const { data, mask } = makeBatch();
      const weight = tf.tensor1d([0.3, -0.2, 0.1, 0.5, -0.4]);
      const full = gradientOf(weight, data, mask, 0, B, { mode });
      const counts = maskCounts(mask);
      const global: AggregateLossOptions = {
        mode,
        globalTokenCount: counts.tokens,
        globalSequenceCount: counts.sequences,
      };
      let accumulated: number[] | undefined;
      let naive: number[] | undefined;
      for (let start = 0; start < B; start += 2) {
        accumulated = addInto(accumulated, gradientOf(weight, data, mask, start, start + 2, global));
        naive = addInto(naive, gradientOf(weight, data, mask, start, start + 2, { mode }));
      }
      expect(maxAbsDifference(accumulated!, full)).toBeLessThan(1e-6);
      // The test can tell: summing per-micro-batch local means (scaled to a mean) is not the same.
      const naiveMean = naive!.map((value) => value / 4);
      expect(maxAbsDifference(naiveMean, full)).toBeGreaterThan(1e-3);
      tf.dispose([data, mask, weight]);
    });

    it(`${mode} mode: the average of 2 ranks' gradients with worldSize 2 equals the full-batch gradient`, () => {
      const { data, mask } = makeBatch();
      const weight = tf.tensor1d([0.3, -0.2, 0.1, 0.5, -0.4]);
      const full = gradientOf(weight, data, mask, 0, B, { mode });
      const counts = maskCounts(mask); // what allReduceSum of the two ranks' counts gives
      const options: AggregateLossOptions = {
        mode,
        globalTokenCount: counts.tokens,
        globalSequenceCount: counts.sequences,
        worldSize: 2,
      };
      const rank0 = gradientOf(weight, data, mask, 0, 4, options);
      const rank1 = gradientOf(weight, data, mask, 4, 8, options);
      const averaged = Array.from(rank0, (value, index) => (value + rank1[index]!) / 2);
      expect(maxAbsDifference(averaged, full)).toBeLessThan(1e-6);
      tf.dispose([data, mask, weight]);
    });
  }

  it('throws ShapeError on mismatched or non-2-D shapes, naming both', () => {
    const perToken = tf.zeros([2, 3]);
    const mask = tf.zeros([2, 4]);
    const flat = tf.zeros([6]);
    expect(() => aggregateLoss(perToken, mask, { mode: 'token' })).toThrow(ShapeError);
    expect(() => aggregateLoss(perToken, mask, { mode: 'token' })).toThrow(/\[2, 3\].*\[2, 4\]/);
    expect(() => aggregateLoss(flat, flat, { mode: 'sequence' })).toThrow(ShapeError);
    expect(() => maskCounts(flat)).toThrow(ShapeError);
    tf.dispose([perToken, mask, flat]);
  });

  it('collects option problems in one ConfigError', () => {
    const perToken = tf.zeros([2, 3]);
    let error: unknown;
    try {
      aggregateLoss(perToken, perToken, {
        mode: 'token',
        worldSize: 0,
        globalTokenCount: -1,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(2);
    expect(() => aggregateLoss(perToken, perToken, { mode: 'sequence', worldSize: 2 })).toThrow(
      /globalSequenceCount is required/,
    );
    expect(() => aggregateLoss(perToken, perToken, { mode: 'mean' as LossAggregationMode })).toThrow(ConfigError);
    tf.dispose(perToken);
  });

  it('does not leak tensors across calls, with or without gradients', () => {
    const { data, mask } = makeBatch();
    const weight = tf.tensor1d([0.3, -0.2, 0.1, 0.5, -0.4]);
    const before = tf.memory().numTensors;
    for (let call = 0; call < 3; call += 1) {
      for (const mode of ['token', 'sequence'] as LossAggregationMode[]) {
        aggregateLoss(data, mask, { mode }).dispose();
        aggregateLoss(data, mask, {
          mode,
          globalTokenCount: 20,
          globalSequenceCount: 7,
          worldSize: 2,
        }).dispose();
        gradientOf(weight, data, mask, 0, B, { mode });
        maskCounts(mask);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([data, mask, weight]);
  });
});
