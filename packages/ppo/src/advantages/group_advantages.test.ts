import { ConfigError, ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/grpo_losses.json';
import { expectClose } from '../../test/expect_close';
import { groupAdvantages, type RewardScaling } from './group_advantages';
import { rlooAdvantages } from './rloo';

describe('groupAdvantages', () => {
  const { rewards, numGenerations, cases } = golden.groupAdvantages;
  test.each(cases.map((goldenCase) => [goldenCase.scaleRewards, goldenCase] as const))('scaleRewards %s matches the PyTorch golden', (_name, goldenCase) => {
    const result = groupAdvantages(Float32Array.from(rewards), { numGenerations, scaleRewards: goldenCase.scaleRewards as RewardScaling });
    expectClose(result.advantages, goldenCase.advantages, 'advantages');
    expectClose([result.metrics.reward, result.metrics.reward_std, result.metrics.frac_reward_zero_std], [goldenCase.metrics.reward, goldenCase.metrics.reward_std, goldenCase.metrics.frac_reward_zero_std], 'metrics');
  });

  test('a group with all-equal rewards gets exactly 0 under every scaling', () => {
    for (const scaleRewards of ['group', 'batch', 'none'] as const) {
      const { advantages } = groupAdvantages(Float32Array.from([0.7, 0.7, 0.7, 0.1, 0.9, 0.3]), { numGenerations: 3, scaleRewards });
      expect(Array.from(advantages.slice(0, 3))).toEqual([0, 0, 0]);
    }
  });

  test('typed errors for a bad G, a split group and non-finite rewards', () => {
    expect(() => groupAdvantages([1, 2], { numGenerations: 1 })).toThrow(ConfigError);
    expect(() => groupAdvantages([1, 2, 3], { numGenerations: 2 })).toThrow(ShapeError);
    expect(() => groupAdvantages([1, Number.NaN], { numGenerations: 2 })).toThrow(/rewards\[1\]/);
    expect(() => groupAdvantages([1, 2], { numGenerations: 2, scaleRewards: 'rank' as RewardScaling })).toThrow(/scaleRewards/);
  });
});

describe('rlooAdvantages', () => {
  const { rewards, numGenerations, cases } = golden.rloo;
  test.each(cases.map((goldenCase) => [goldenCase.normalize, goldenCase] as const))('normalize %s matches the PyTorch golden', (_name, goldenCase) => {
    expectClose(rlooAdvantages(Float32Array.from(rewards), { numGenerations, normalize: goldenCase.normalize }), goldenCase.advantages, 'advantages');
  });

  test('the leave-one-out baseline: with G = 2 the advantages are ±(r1 − r2)', () => {
    expectClose(rlooAdvantages([3, 1], { numGenerations: 2 }), [2, -2], 'advantages');
    expect(() => rlooAdvantages([1, 2, 3], { numGenerations: 2 })).toThrow(ShapeError);
  });
});
