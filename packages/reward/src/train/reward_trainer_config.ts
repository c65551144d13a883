import { ConfigError, resolveTrainerConfig, type PaddingSide, type TrainerConfig, type TrainerOptions } from '@rlhfjs/core';

/**
 * The shared loop's options (core's `TrainerOptions`: batchSize in pairs per micro-batch per rank, accumulation,
 * schedule, clipping, evalEvery, checkpoints, resumeFrom, …) plus what is particular to reward modelling
 * (TRL's RewardConfig where it defines one).
 */
export interface RewardTrainerOptions extends Omit<TrainerOptions, 'maxSteps'> {
  /** Optimizer steps; default epochs × steps per epoch (null = the default). */
  maxSteps?: number | null;
  /** TRL's `center_rewards_coefficient` (default null: no centering). */
  centerRewardsCoefficient?: number | null;
  /** Pairs with a side longer than this are dropped, as TRL does (default 1024). */
  maxLength?: number | null;
  /** Default 'right'; the reward is read at the last real token either way. */
  paddingSide?: PaddingSide;
  /** Pairs per evaluation forward pass (default 16). */
  evalBatchSize?: number;
  /**
   * Recompute each backbone block's activations in the backward pass instead of holding them from the forward
   * (default false): less memory for one more forward per step, the same gradients.
   */
  gradientCheckpointing?: boolean;
}

export interface RewardTrainerConfig extends TrainerConfig {
  readonly centerRewardsCoefficient: number | null;
  readonly maxLength: number | null;
  readonly paddingSide: PaddingSide;
  readonly evalBatchSize: number;
  readonly gradientCheckpointing: boolean;
}

/** Splits reward options from the shared loop's options (which go to core's Trainer unchanged). */
export function splitRewardTrainerOptions(options: RewardTrainerOptions): { trainerOptions: TrainerOptions; rewardOptions: Pick<RewardTrainerOptions, 'centerRewardsCoefficient' | 'maxLength' | 'paddingSide' | 'evalBatchSize' | 'gradientCheckpointing'> } {
  const { centerRewardsCoefficient, maxLength, paddingSide, evalBatchSize, gradientCheckpointing, maxSteps, ...rest } = options;
  const trainerOptions: TrainerOptions = maxSteps === null || maxSteps === undefined ? rest : { ...rest, maxSteps };
  return { trainerOptions, rewardOptions: { centerRewardsCoefficient, maxLength, paddingSide, evalBatchSize, gradientCheckpointing } };
}

/** Every default in one place; all problems (shared loop and reward ones) in one ConfigError. */
export function resolveRewardTrainerConfig(options: RewardTrainerOptions = {}): RewardTrainerConfig {
  const { trainerOptions, rewardOptions } = splitRewardTrainerOptions(options);
  const problems: string[] = [];
  let trainerConfig: TrainerConfig | null = null;
  try {
    trainerConfig = resolveTrainerConfig(trainerOptions, 'RewardTrainer');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  const reward = {
    centerRewardsCoefficient: rewardOptions.centerRewardsCoefficient ?? null,
    maxLength: rewardOptions.maxLength === undefined ? 1024 : rewardOptions.maxLength,
    paddingSide: rewardOptions.paddingSide ?? 'right',
    evalBatchSize: rewardOptions.evalBatchSize ?? 16,
    gradientCheckpointing: rewardOptions.gradientCheckpointing ?? false,
  };
  const positiveInteger = (key: string, value: unknown): void => {
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0)) problems.push(`${key} must be a positive integer, got ${String(value)}`);
  };
  positiveInteger('evalBatchSize', reward.evalBatchSize);
  if (reward.maxLength !== null) positiveInteger('maxLength', reward.maxLength);
  if (reward.centerRewardsCoefficient !== null && !(Number.isFinite(reward.centerRewardsCoefficient) && reward.centerRewardsCoefficient >= 0)) {
    problems.push(`centerRewardsCoefficient must be a finite number >= 0 or null, got ${reward.centerRewardsCoefficient}`);
  }
  if (typeof reward.gradientCheckpointing !== 'boolean') problems.push(`gradientCheckpointing must be true or false, got ${JSON.stringify(reward.gradientCheckpointing)}`);
  if (reward.paddingSide !== 'left' && reward.paddingSide !== 'right') problems.push(`paddingSide must be 'left' or 'right', got ${JSON.stringify(reward.paddingSide)}`);
  if (problems.length > 0 || trainerConfig === null) throw new ConfigError('RewardTrainer', problems);
  return Object.freeze({ ...trainerConfig, ...reward });
}
