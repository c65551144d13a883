import { ConfigError, RlhfError, type RewardFn } from '@rlhfjs/core';

/** Core's `RewardFn` (one reward per prompt/completion pair), re-exported where reward functions are built. */
export type { RewardFn };

/** Plain code that scores a batch, synchronously or not. */
export type RewardFunction = (prompts: string[], completions: string[]) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** Checks a reward function's inputs and output: equal lengths in, one finite number per completion out. */
export function checkRewards(where: string, prompts: readonly string[], completions: readonly string[], rewards: ArrayLike<number>): Float32Array {
  if (rewards === null || typeof rewards !== 'object' || typeof rewards.length !== 'number') {
    throw new RlhfError('REWARD_OUTPUT', `${where}: the reward function returned ${String(rewards)}; it must return one number per completion`);
  }
  if (rewards.length !== completions.length) {
    throw new RlhfError('REWARD_OUTPUT', `${where}: the reward function returned ${rewards.length} rewards for ${completions.length} completions`);
  }
  const out = new Float32Array(rewards.length);
  for (let index = 0; index < rewards.length; index++) {
    const value = rewards[index];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new RlhfError('REWARD_OUTPUT', `${where}: reward ${index} is ${String(value)}; every reward must be a finite number (prompt: ${JSON.stringify(prompts[index]?.slice(0, 80))})`);
    }
    out[index] = value;
  }
  return out;
}

export function checkInputs(where: string, prompts: readonly string[], completions: readonly string[]): void {
  if (!Array.isArray(prompts) || !Array.isArray(completions) || prompts.length !== completions.length) {
    throw new ConfigError(where, [`prompts and completions must be arrays of equal length, got ${prompts?.length} and ${completions?.length}`]);
  }
}

/** Wraps plain code (sync or async) as a `RewardFn`, checking its output's length and finiteness. */
export function rewardFnFromFunction(fn: RewardFunction): RewardFn {
  if (typeof fn !== 'function') throw new ConfigError('rewardFnFromFunction', ['fn must be a function (prompts, completions) => numbers']);
  return async (prompts, completions) => {
    checkInputs('rewardFnFromFunction', prompts, completions);
    return checkRewards('rewardFnFromFunction', prompts, completions, await fn(prompts, completions));
  };
}
