import { ConfigError, ShapeError } from '@rlhfjs/core';

/** How group advantages are scaled (TRL 1.x `scale_rewards`). */
export type RewardScaling = 'group' | 'batch' | 'none';

export const REWARD_SCALINGS: readonly RewardScaling[] = Object.freeze(['group', 'batch', 'none'] as const);

export interface GroupAdvantageOptions {
  /** G: completions per prompt; the rewards are G consecutive entries per prompt. At least 2. */
  readonly numGenerations: number;
  /** Default 'group'. */
  readonly scaleRewards?: RewardScaling;
}

export interface GroupAdvantageMetrics {
  /** Mean reward of the batch (TRL `reward`). */
  readonly reward: number;
  /** Mean of the standard deviation used for scaling, per completion (TRL `reward_std`). */
  readonly reward_std: number;
  /** Fraction of completions whose std is ~0 (`torch.isclose(std, 0)`: |std| ≤ 1e-8) (TRL `frac_reward_zero_std`). */
  readonly frac_reward_zero_std: number;
}

export interface GroupAdvantages {
  /** One advantage per completion. [B·G] */
  readonly advantages: Float32Array;
  readonly metrics: GroupAdvantageMetrics;
}

/** Mean and unbiased std of `values[start, start + count)`, in float64. */
function meanAndStd(values: ArrayLike<number>, start: number, count: number): { mean: number; std: number } {
  let sum = 0;
  for (let index = start; index < start + count; index += 1) sum += values[index] as number;
  const mean = sum / count;
  let squares = 0;
  for (let index = start; index < start + count; index += 1) squares += ((values[index] as number) - mean) ** 2;
  return { mean, std: Math.sqrt(squares / (count - 1)) };
}

/**
 * GRPO's group-relative advantages with TRL 1.x semantics (`GRPOTrainer._generate_and_score_completions`):
 * `A_i = r_i − mean(group of i)`, divided by `std + 1e-4` where std is the unbiased standard deviation of the group
 * (`'group'`), of the whole batch of rewards (`'batch'`), or not divided (`'none'`). A group whose rewards are all
 * equal gets advantage 0. Pass the rewards of ALL ranks (groups are never split): computed in float64 on the
 * host, the result is identical on every rank.
 * @param rewards [B·G], G consecutive completions per prompt.
 */
export function groupAdvantages(rewards: ArrayLike<number>, options: GroupAdvantageOptions): GroupAdvantages {
  const { numGenerations } = options;
  const scaleRewards = options.scaleRewards ?? 'group';
  const problems: string[] = [];
  if (!(Number.isInteger(numGenerations) && numGenerations >= 2)) problems.push(`numGenerations must be an integer >= 2, got ${numGenerations}`);
  if (!REWARD_SCALINGS.includes(scaleRewards)) problems.push(`scaleRewards must be one of ${REWARD_SCALINGS.join(', ')}, got ${String(scaleRewards)}`);
  if (problems.length > 0) throw new ConfigError('groupAdvantages', problems);
  if (rewards.length === 0 || rewards.length % numGenerations !== 0) {
    throw new ShapeError(`groupAdvantages: rewards has ${rewards.length} entries, not a positive multiple of numGenerations ${numGenerations}`);
  }
  for (let index = 0; index < rewards.length; index += 1) {
    if (!Number.isFinite(rewards[index])) throw new ShapeError(`groupAdvantages: rewards[${index}] is ${rewards[index]}, expected a finite number`);
  }
  const size = rewards.length;
  const batch = meanAndStd(rewards, 0, size);
  const advantages = new Float32Array(size);
  let stdSum = 0;
  let zeroStd = 0;
  for (let start = 0; start < size; start += numGenerations) {
    const group = meanAndStd(rewards, start, numGenerations);
    const std = scaleRewards === 'batch' ? batch.std : group.std;
    for (let index = start; index < start + numGenerations; index += 1) {
      const centred = (rewards[index] as number) - group.mean;
      advantages[index] = scaleRewards === 'none' ? centred : centred / (std + 1e-4);
      stdSum += std;
      if (Math.abs(std) <= 1e-8) zeroStd += 1;
    }
  }
  const metrics: GroupAdvantageMetrics = { reward: batch.mean, reward_std: stdSum / size, frac_reward_zero_std: zeroStd / size };
  return { advantages, metrics: Object.freeze(metrics) };
}
