import { ConfigError, ShapeError } from '@rlhfjs/core';

export interface RlooOptions {
  /** G: completions per prompt (G consecutive rewards per prompt). At least 2. */
  readonly numGenerations: number;
  /** Then normalise over the batch: `(A − mean(A)) / (unbiased std(A) + 1e-4)` (TRL RLOO `normalize_advantages`). Default false. */
  readonly normalize?: boolean;
}

/**
 * REINFORCE Leave-One-Out (Kool et al. 2019; Ahmadian et al. 2024, "Back to Basics"): each completion's baseline is
 * the mean reward of the OTHER G − 1 completions of its prompt, `A_i = r_i − (Σ_group r − r_i) / (G − 1)`.
 * Rewards may already include a sequence-level KL penalty. Pass the rewards of all ranks; float64 on the host.
 * @param rewards [B·G] → advantages [B·G]
 */
export function rlooAdvantages(rewards: ArrayLike<number>, options: RlooOptions): Float32Array {
  const { numGenerations } = options;
  if (!(Number.isInteger(numGenerations) && numGenerations >= 2)) throw new ConfigError('rlooAdvantages', [`numGenerations must be an integer >= 2, got ${numGenerations}`]);
  if (rewards.length === 0 || rewards.length % numGenerations !== 0) {
    throw new ShapeError(`rlooAdvantages: rewards has ${rewards.length} entries, not a positive multiple of numGenerations ${numGenerations}`);
  }
  const advantages = new Float64Array(rewards.length);
  for (let start = 0; start < rewards.length; start += numGenerations) {
    let sum = 0;
    for (let index = start; index < start + numGenerations; index += 1) sum += rewards[index] as number;
    for (let index = start; index < start + numGenerations; index += 1) {
      const reward = rewards[index] as number;
      if (!Number.isFinite(reward)) throw new ShapeError(`rlooAdvantages: rewards[${index}] is ${reward}, expected a finite number`);
      advantages[index] = reward - (sum - reward) / (numGenerations - 1);
    }
  }
  if (options.normalize === true) {
    const mean = advantages.reduce((a, b) => a + b, 0) / advantages.length;
    const std = advantages.length > 1 ? Math.sqrt(advantages.reduce((a, b) => a + (b - mean) ** 2, 0) / (advantages.length - 1)) : 0;
    for (let index = 0; index < advantages.length; index += 1) advantages[index] = ((advantages[index] as number) - mean) / (std + 1e-4);
  }
  return Float32Array.from(advantages);
}
