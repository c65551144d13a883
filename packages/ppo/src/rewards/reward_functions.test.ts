import { ConfigError } from '@rlhfjs/core';
import { combineRewards, exactAnswerReward, regexFormatReward, scoreRewardFunctions } from './reward_functions';

describe('verifiable reward helpers', () => {
  test('exactAnswerReward: normalised exact match, extraction, NaN for prompts without an answer', async () => {
    const reward = exactAnswerReward(new Map([['2+2', '4'], ['3+3', '6']]), { extract: (text) => /answer: *(\S+)/.exec(text)?.[1] ?? null });
    const scores = await reward(['2+2', '3+3', '2+2', '9+9'], ['answer: 4', 'answer: 7', 'four', 'answer: 18']);
    expect(Array.from(scores)).toEqual([1, 0, 0, Number.NaN]);
    const plain = exactAnswerReward({ a: 'x  y' });
    expect(Array.from(await plain(['a', 'a'], [' x y ', 'xy']))).toEqual([1, 0]);
  });

  test('regexFormatReward matches the whole completion', async () => {
    const format = regexFormatReward(/<think>.*<\/think> \d+/);
    expect(Array.from(await format(['p', 'p', 'p'], ['<think>ok</think> 12', 'x <think>ok</think> 12', '<think>ok</think> 12 tail']))).toEqual([1, 0, 0]);
  });

  test('combineRewards is TRL nansum of weighted functions; scoreRewardFunctions accepts sync and async functions and checks lengths', async () => {
    expect(Array.from(combineRewards([[1, Number.NaN, 2], [0.5, 0.5, Number.NaN]], [2, -1]))).toEqual([1.5, -0.5, 4]);
    const rows = await scoreRewardFunctions([{ name: 'sync', fn: () => [1, 2] }, { name: 'async', fn: async () => Float32Array.from([3, 4]) }], ['a', 'b'], ['c', 'd']);
    expect(rows.map((row) => Array.from(row))).toEqual([[1, 2], [3, 4]]);
    await expect(scoreRewardFunctions([{ name: 'short', fn: () => [1] }], ['a', 'b'], ['c', 'd'])).rejects.toThrow(ConfigError);
    await expect(scoreRewardFunctions([{ name: 'short', fn: () => [1] }], ['a', 'b'], ['c', 'd'])).rejects.toThrow(/"short" returned 1 scores for 2/);
  });
});
