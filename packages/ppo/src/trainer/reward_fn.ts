/** Core's `RewardFn`: one score per (prompt, completion) pair — a reward model, an ensemble, or plain code. */
export type { RewardFn } from '@rlhfjs/core';
