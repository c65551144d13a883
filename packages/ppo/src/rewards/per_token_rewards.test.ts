import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/ppo_pieces.json';
import type { KlEstimator } from '../kl/kl_estimators';
import { computePerTokenRewards, type PerTokenRewardInputs } from './per_token_rewards';
import { truncateAtStopToken } from './truncate_response';
import { expectClose } from '../../test/expect_close';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function goldenInputs(): PerTokenRewardInputs {
  return {
    scores: tf.tensor1d(golden.inputs.scores),
    logprobs: tf.tensor2d(golden.inputs.logprobs),
    refLogprobs: tf.tensor2d(golden.inputs.refLogprobs),
    responseMask: tf.tensor2d(golden.inputs.mask),
  };
}

describe('computePerTokenRewards', () => {
  test.each(golden.perTokenRewards.map((goldenCase) => [JSON.stringify(goldenCase.options), goldenCase]))(
    'matches the PyTorch golden for %s',
    (_name, goldenCase) => {
      const inputs = goldenInputs();
      const options = goldenCase.options as { klCoef: number; estimator: KlEstimator; scoreClip?: number; missingEosPenalty?: number; hasEos?: boolean[] };
      const result = computePerTokenRewards(inputs, options);
      expectClose(result.rewards.dataSync(), goldenCase.rewards.flat(), 'rewards');
      expectClose(result.kl.dataSync(), goldenCase.kl.flat(), 'kl');
      expectClose([result.nonScoreReward], [goldenCase.nonScoreReward], 'nonScoreReward');
      expectClose(result.finalScores, goldenCase.finalScores, 'finalScores');
      tf.dispose([result.rewards, result.kl, ...Object.values(inputs)]);
    },
  );

  test('with klCoef 0 the reward is the score on the last real token and 0 elsewhere', () => {
    const inputs: PerTokenRewardInputs = {
      scores: tf.tensor1d([2, -1]),
      logprobs: tf.tensor2d([[-1, -2, -3], [-1, -1, -1]]),
      refLogprobs: tf.tensor2d([[-2, -2, -2], [-3, -3, -3]]),
      responseMask: tf.tensor2d([[1, 1, 0], [1, 1, 1]]),
    };
    const hasEos = tf.tensor1d([1, 0]);
    const result = computePerTokenRewards(inputs, { klCoef: 0, estimator: 'k1', missingEosPenalty: 1, hasEos });
    expectClose(result.rewards.dataSync(), [0, 2, 0, 0, 0, -2], 'rewards');
    tf.dispose([result.rewards, result.kl, hasEos, ...Object.values(inputs)]);
  });

  test('checks shapes and options; does not leak', () => {
    const inputs = goldenInputs();
    const shortScores = tf.tensor1d([1, 2]);
    expect(() => computePerTokenRewards({ ...inputs, scores: shortScores }, { klCoef: 0.1, estimator: 'k1' })).toThrow(ShapeError);
    expect(() => computePerTokenRewards(inputs, { klCoef: 0.1, estimator: 'k1', missingEosPenalty: 1 })).toThrow(ConfigError);
    const emptyRow = tf.tensor2d([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]]);
    expect(() => computePerTokenRewards({ ...inputs, responseMask: emptyRow }, { klCoef: 0.1, estimator: 'k1' })).toThrow(/row 1/);
    const before = tf.memory().numTensors;
    for (let index = 0; index < 3; index += 1) {
      const result = computePerTokenRewards(inputs, { klCoef: 0.1, estimator: 'k3', scoreClip: 1 });
      tf.dispose([result.rewards, result.kl]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([shortScores, emptyRow, ...Object.values(inputs)]);
  });
});

describe('truncateAtStopToken', () => {
  test('masks everything after the first stop token and reports rows without one', () => {
    const ids = [
      [5, 9, 2, 7, 2],
      [5, 6, 7, 8, 0],
      [2, 1, 1, 0, 0],
    ];
    const mask = [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0],
      [1, 1, 1, 0, 0],
    ];
    const result = truncateAtStopToken(ids, mask, 2, 0);
    expect(result.mask).toEqual([
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 0],
      [1, 0, 0, 0, 0],
    ]);
    expect(result.ids).toEqual([
      [5, 9, 2, 0, 0],
      [5, 6, 7, 8, 0],
      [2, 0, 0, 0, 0],
    ]);
    expect(result.hasStopToken).toEqual([true, false, true]);
    expect(ids[0]).toEqual([5, 9, 2, 7, 2]); // the caller's arrays are untouched
    expect(() => truncateAtStopToken([[1, 2]], [[1]], 2)).toThrow(ShapeError);
  });
});
