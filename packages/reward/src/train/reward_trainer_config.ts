import { ConfigError, type LrScheduleType, type PaddingSide } from '@rlhfjs/core';

/** Every default in one place (transformers' TrainingArguments / TRL's RewardConfig where they define one). */
export interface RewardTrainerOptions {
  /** Pairs per micro-batch per rank (default 8; each forward pass scores 2 × batchSize sequences). */
  batchSize?: number;
  /** Micro-batches summed per optimizer step (default 1). */
  gradientAccumulationSteps?: number;
  /** Default 1 (used when maxSteps is absent). */
  epochs?: number;
  /** Optimizer steps; default epochs × steps per epoch. */
  maxSteps?: number | null;
  /** Peak learning rate (default 5e-5). */
  learningRate?: number;
  /** Default 'linear'. */
  lrScheduler?: LrScheduleType;
  /** Default 0. */
  warmupSteps?: number;
  /** AdamW decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Global gradient-norm clip (default 1; null disables). */
  maxGradNorm?: number | null;
  /** TRL's `center_rewards_coefficient` (default null: no centering). */
  centerRewardsCoefficient?: number | null;
  /** Pairs with a side longer than this are dropped, as TRL does (default 1024). */
  maxLength?: number | null;
  /** Default 'right'. */
  paddingSide?: PaddingSide;
  /** Shuffling seed (default 42). */
  seed?: number;
  /** Evaluate every N steps (0: only at the end; default 0). Needs an eval dataset. */
  evalEvery?: number;
  /** Pairs per evaluation forward pass (default 16). */
  evalBatchSize?: number;
  /** Checkpoint every N steps (0: never; default 0). Needs outputDir. */
  saveEvery?: number;
  /** Where checkpoints go (default null). */
  outputDir?: string | null;
  /** A checkpoint directory to continue from, or 'latest' (the newest under outputDir; none = a fresh start). */
  resumeFrom?: string | null;
}

export type RewardTrainerConfig = Readonly<Required<RewardTrainerOptions>>;

export function resolveRewardTrainerConfig(options: RewardTrainerOptions = {}): RewardTrainerConfig {
  const config: Required<RewardTrainerOptions> = {
    batchSize: options.batchSize ?? 8,
    gradientAccumulationSteps: options.gradientAccumulationSteps ?? 1,
    epochs: options.epochs ?? 1,
    maxSteps: options.maxSteps ?? null,
    learningRate: options.learningRate ?? 5e-5,
    lrScheduler: options.lrScheduler ?? 'linear',
    warmupSteps: options.warmupSteps ?? 0,
    weightDecay: options.weightDecay ?? 0,
    maxGradNorm: options.maxGradNorm === undefined ? 1 : options.maxGradNorm,
    centerRewardsCoefficient: options.centerRewardsCoefficient ?? null,
    maxLength: options.maxLength === undefined ? 1024 : options.maxLength,
    paddingSide: options.paddingSide ?? 'right',
    seed: options.seed ?? 42,
    evalEvery: options.evalEvery ?? 0,
    evalBatchSize: options.evalBatchSize ?? 16,
    saveEvery: options.saveEvery ?? 0,
    outputDir: options.outputDir ?? null,
    resumeFrom: options.resumeFrom ?? null,
  };
  const problems: string[] = [];
  const positiveInteger = (key: keyof RewardTrainerOptions, value: unknown): void => {
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0)) problems.push(`${key} must be a positive integer, got ${String(value)}`);
  };
  const nonNegativeInteger = (key: keyof RewardTrainerOptions, value: unknown): void => {
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) problems.push(`${key} must be an integer >= 0, got ${String(value)}`);
  };
  positiveInteger('batchSize', config.batchSize);
  positiveInteger('gradientAccumulationSteps', config.gradientAccumulationSteps);
  positiveInteger('epochs', config.epochs);
  positiveInteger('evalBatchSize', config.evalBatchSize);
  if (config.maxSteps !== null) positiveInteger('maxSteps', config.maxSteps);
  if (config.maxLength !== null) positiveInteger('maxLength', config.maxLength);
  nonNegativeInteger('warmupSteps', config.warmupSteps);
  nonNegativeInteger('evalEvery', config.evalEvery);
  nonNegativeInteger('saveEvery', config.saveEvery);
  nonNegativeInteger('seed', config.seed);
  if (!(Number.isFinite(config.learningRate) && config.learningRate > 0)) problems.push(`learningRate must be a finite number > 0, got ${config.learningRate}`);
  if (!(Number.isFinite(config.weightDecay) && config.weightDecay >= 0)) problems.push(`weightDecay must be a finite number >= 0, got ${config.weightDecay}`);
  if (config.maxGradNorm !== null && !(Number.isFinite(config.maxGradNorm) && config.maxGradNorm > 0)) problems.push(`maxGradNorm must be a finite number > 0 or null, got ${config.maxGradNorm}`);
  if (config.centerRewardsCoefficient !== null && !(Number.isFinite(config.centerRewardsCoefficient) && config.centerRewardsCoefficient >= 0)) {
    problems.push(`centerRewardsCoefficient must be a finite number >= 0 or null, got ${config.centerRewardsCoefficient}`);
  }
  if (!['constant', 'linear', 'cosine'].includes(config.lrScheduler)) problems.push(`lrScheduler must be 'constant', 'linear' or 'cosine', got ${JSON.stringify(config.lrScheduler)}`);
  if (config.paddingSide !== 'left' && config.paddingSide !== 'right') problems.push(`paddingSide must be 'left' or 'right', got ${JSON.stringify(config.paddingSide)}`);
  if (config.saveEvery > 0 && config.outputDir === null) problems.push('saveEvery needs outputDir');
  if (config.resumeFrom === 'latest' && config.outputDir === null) problems.push("resumeFrom: 'latest' needs outputDir");
  if (problems.length > 0) throw new ConfigError('RewardTrainer', problems);
  return Object.freeze(config);
}
