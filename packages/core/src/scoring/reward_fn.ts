/**
 * Scores completions of prompts (DESIGN.md, "Core building blocks"): a reward model, an ensemble, or plain code.
 * One finite reward per (prompt, completion) pair, in order. `@rlhfjs/reward` builds them; PPO and GRPO take them.
 */
export type RewardFn = (prompts: string[], completions: string[]) => Promise<Float32Array>;
