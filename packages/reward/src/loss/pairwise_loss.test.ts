import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'fs';
import * as path from 'path';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import { pairwiseRewardLoss } from './pairwise_loss';

interface GoldenCase {
  name: string;
  chosen: number[];
  rejected: number[];
  margin: number[] | null;
  center: number | null;
  loss: number;
  grad_chosen: number[];
  grad_rejected: number[];
  accuracy: number;
  mean_margin: number;
  mean_chosen: number;
  mean_rejected: number;
}

const golden = JSON.parse(readFileSync(path.join(__dirname, '../../test/fixtures/reward_loss.json'), 'utf8')) as { cases: GoldenCase[] };

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs((actual[i] as number) - (expected[i] as number))).toBeLessThan(tolerance);
}

describe('pairwiseRewardLoss', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('has golden cases to check', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(14);
  });

  for (const testCase of golden.cases) {
    it(`matches the PyTorch reference: ${testCase.name}`, () => {
      const chosen = tf.variable(tf.tensor1d(testCase.chosen));
      const rejected = tf.variable(tf.tensor1d(testCase.rejected));
      const margin = testCase.margin === null ? undefined : tf.tensor1d(testCase.margin);
      let metrics: Record<string, number> = {};
      const { value, grads } = tf.variableGrads(() => {
        const result = pairwiseRewardLoss({ chosen, rejected, margin }, { centerRewardsCoefficient: testCase.center });
        metrics = { ...result.metrics };
        return result.loss;
      }, [chosen, rejected]);
      expect(Math.abs((value.dataSync()[0] as number) - testCase.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(testCase.loss)));
      expectClose(grads[chosen.name]!.dataSync(), testCase.grad_chosen, 1e-6);
      expectClose(grads[rejected.name]!.dataSync(), testCase.grad_rejected, 1e-6);
      expect(metrics['accuracy']).toBeCloseTo(testCase.accuracy, 6);
      expect(metrics['margin']).toBeCloseTo(testCase.mean_margin, 5);
      expect(metrics['rewards/chosen']).toBeCloseTo(testCase.mean_chosen, 5);
      expect(metrics['rewards/rejected']).toBeCloseTo(testCase.mean_rejected, 5);
      tf.dispose([chosen, rejected, value, ...Object.values(grads)]);
      if (margin !== undefined) margin.dispose();
    });
  }

  it('gives ln 2 for equal rewards, whatever their value', () => {
    for (const value of [-3, 0, 0.7, 40]) {
      const chosen = tf.fill([5], value) as tf.Tensor1D;
      const { loss, metrics } = pairwiseRewardLoss({ chosen, rejected: chosen });
      expect(loss.dataSync()[0]).toBeCloseTo(Math.LN2, 6);
      expect(metrics.accuracy).toBe(0);
      expect(metrics.margin).toBe(0);
      tf.dispose([chosen, loss]);
    }
  });

  it('with margin m and r_c − r_r = m gives ln 2; a scalar margin equals the same per-pair margin', () => {
    const chosen = tf.tensor1d([1.5, 0.5, 2]);
    const rejected = tf.tensor1d([0.5, -0.5, 1]);
    const scalar = pairwiseRewardLoss({ chosen, rejected, margin: 1 });
    const perPair = pairwiseRewardLoss({ chosen, rejected, margin: tf.tensor1d([1, 1, 1]) });
    expect(scalar.loss.dataSync()[0]).toBeCloseTo(Math.LN2, 6);
    expect(perPair.loss.dataSync()[0]).toBeCloseTo(Math.LN2, 6);
    tf.dispose([chosen, rejected, scalar.loss, perPair.loss]);
  });

  it('centering adds c · mean((r_c + r_r)²) exactly', () => {
    const chosen = tf.tensor1d([1, 2]);
    const rejected = tf.tensor1d([3, -1]);
    const plain = pairwiseRewardLoss({ chosen, rejected }).loss.dataSync()[0] as number;
    const centred = pairwiseRewardLoss({ chosen, rejected }, { centerRewardsCoefficient: 0.1 }).loss.dataSync()[0] as number;
    expect(centred - plain).toBeCloseTo(0.1 * ((4 * 4 + 1 * 1) / 2), 5);
    tf.dispose([chosen, rejected]);
  });

  it('stays finite for very large reward differences', () => {
    const chosen = tf.tensor1d([-1000, 1000]);
    const rejected = tf.tensor1d([1000, -1000]);
    const { loss } = pairwiseRewardLoss({ chosen, rejected });
    expect(loss.dataSync()[0]).toBeCloseTo(1000, 3); // (2000 + 0) / 2
    tf.dispose([chosen, rejected, loss]);
  });

  it('rejects mismatched shapes and a bad coefficient', () => {
    const a = tf.tensor1d([1, 2]);
    const b = tf.tensor1d([1]);
    expect(() => pairwiseRewardLoss({ chosen: a, rejected: b })).toThrow(ShapeError);
    expect(() => pairwiseRewardLoss({ chosen: a, rejected: a, margin: b })).toThrow(ShapeError);
    expect(() => pairwiseRewardLoss({ chosen: a, rejected: a }, { centerRewardsCoefficient: -1 })).toThrow(ConfigError);
    tf.dispose([a, b]);
  });

  it('does not leak tensors', () => {
    const chosen = tf.tensor1d([0.1, 0.4, -0.3]);
    const rejected = tf.tensor1d([0.2, -0.4, 0.3]);
    const run = (): void => {
      const { loss } = pairwiseRewardLoss({ chosen, rejected, margin: 0.2 }, { centerRewardsCoefficient: 0.01 });
      loss.dispose();
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([chosen, rejected]);
  });
});
