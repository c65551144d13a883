import { ConfigError } from '@rlhfjs/core';
import { checkInputs, checkRewards, type RewardFn } from './reward_fn';

/**
 * How an ensemble combines its members' rewards for each completion (against reward hacking, Coste et al. 2023,
 * "Reward Model Ensembles Help Mitigate Overoptimization"):
 * - 'mean': the average;
 * - 'min': the worst case (worst-case optimisation);
 * - 'uncertainty-penalised mean': mean − penalty · std, the std across members (population, divide by K).
 */
export type EnsembleMode = 'mean' | 'min' | 'uncertainty-penalised mean';

export interface EnsembleOptions {
  /** The std weight of 'uncertainty-penalised mean' (required there, a number >= 0). */
  penalty?: number;
}

export function ensembleRewards(members: readonly RewardFn[], mode: EnsembleMode, options: EnsembleOptions = {}): RewardFn {
  const problems: string[] = [];
  if (!Array.isArray(members) || members.length === 0) problems.push('members must be a non-empty array of reward functions');
  const modes: readonly EnsembleMode[] = ['mean', 'min', 'uncertainty-penalised mean'];
  if (!modes.includes(mode)) problems.push(`mode must be one of ${modes.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(mode)}`);
  if (mode === 'uncertainty-penalised mean' && !(typeof options.penalty === 'number' && Number.isFinite(options.penalty) && options.penalty >= 0)) {
    problems.push(`'uncertainty-penalised mean' needs penalty, a finite number >= 0, got ${options.penalty}`);
  }
  if (problems.length > 0) throw new ConfigError('ensembleRewards', problems);
  const penalty = options.penalty ?? 0;
  const frozen = [...members];
  return async (prompts, completions) => {
    checkInputs('ensembleRewards', prompts, completions);
    const scores = await Promise.all(frozen.map(async (member, index) => checkRewards(`ensembleRewards (member ${index})`, prompts, completions, await member(prompts, completions))));
    const out = new Float32Array(completions.length);
    for (let item = 0; item < completions.length; item++) {
      const values = scores.map((score) => score[item] as number);
      out[item] = combine(values, mode, penalty);
    }
    return out;
  };
}

function combine(values: readonly number[], mode: EnsembleMode, penalty: number): number {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  switch (mode) {
    case 'mean':
      return mean;
    case 'min':
      return Math.min(...values);
    case 'uncertainty-penalised mean': {
      const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
      return mean - penalty * Math.sqrt(variance);
    }
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
}
