import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/ppo_pieces.json';
import { computeGae } from './gae';
import { expectClose } from '../../test/expect_close';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('computeGae', () => {
  test.each(golden.gae.map((goldenCase) => [goldenCase.gamma, goldenCase.lambda, goldenCase]))(
    'gamma %p, lambda %p matches the PyTorch golden',
    (gamma, lambda, goldenCase) => {
      const rewards = tf.tensor2d(golden.inputs.gaeRewards);
      const values = tf.tensor2d(golden.inputs.values);
      const mask = tf.tensor2d(golden.inputs.mask);
      const result = computeGae({ rewards, values, mask, gamma, lambda });
      expectClose(result.advantages.dataSync(), goldenCase.advantages.flat(), 'advantages');
      expectClose(result.returns.dataSync(), goldenCase.returns.flat(), 'returns');
      tf.dispose([rewards, values, mask, result.advantages, result.returns]);
    },
  );

  test('gamma = lambda = 1: advantages are reward-to-go minus V, returns are reward-to-go', () => {
    const rewards = tf.tensor2d([[1, 2, 3, 9]]);
    const values = tf.tensor2d([[0.5, 0.25, 1, 7]]);
    const mask = tf.tensor2d([[1, 1, 1, 0]]);
    const result = computeGae({ rewards, values, mask, gamma: 1, lambda: 1 });
    expectClose(result.returns.dataSync(), [6, 5, 3, 0], 'returns');
    expectClose(result.advantages.dataSync(), [5.5, 4.75, 2, 0], 'advantages');
    tf.dispose([rewards, values, mask, result.advantages, result.returns]);
  });

  test('lambda = 0 gives one-step TD errors; defaults are gamma 1, lambda 0.95', () => {
    const rewards = tf.tensor2d([[1, 2, 3]]);
    const values = tf.tensor2d([[0.5, 0.25, 1]]);
    const mask = tf.tensor2d([[1, 1, 1]]);
    const td = computeGae({ rewards, values, mask, gamma: 0.5, lambda: 0 });
    expectClose(td.advantages.dataSync(), [1 + 0.5 * 0.25 - 0.5, 2 + 0.5 * 1 - 0.25, 3 - 1], 'advantages');
    const defaults = computeGae({ rewards, values, mask });
    const explicit = computeGae({ rewards, values, mask, gamma: 1, lambda: 0.95 });
    expectClose(defaults.advantages.dataSync(), Array.from(explicit.advantages.dataSync()), 'defaults');
    tf.dispose([rewards, values, mask, td.advantages, td.returns, defaults.advantages, defaults.returns, explicit.advantages, explicit.returns]);
  });

  test('checks options and shapes; does not leak', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => computeGae({ rewards: a, values: a, mask: a, lambda: 2 })).toThrow(ConfigError);
    expect(() => computeGae({ rewards: a, values: b, mask: a })).toThrow(ShapeError);
    const before = tf.memory().numTensors;
    const result = computeGae({ rewards: a, values: a, mask: a });
    tf.dispose([result.advantages, result.returns]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});
