/**
 * Same shape as `RewardFn` of `@rlhfjs/reward` (packages/reward/src/reward_fn/reward_fn.ts), defined here because
 * that package's index does not export it yet; structurally identical, so either can be passed.
 * One score per (prompt, completion) pair.
 */
export type RewardFn = (prompts: string[], completions: string[]) => Promise<Float32Array>;
