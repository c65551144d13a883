import { ConfigError } from '@rlhfjs/core';
import { REWARD_SCALINGS, type RewardScaling } from '../advantages/group_advantages';
import { KL_ESTIMATORS, type KlEstimator } from '../kl/kl_estimators';
import { GRPO_LOSS_TYPES, IMPORTANCE_SAMPLING_LEVELS, type GrpoLossType, type ImportanceSamplingLevel } from '../losses/grpo_loss';

/**
 * The advantage estimator of the critic-free loop:
 * - `grpo`: group-relative advantages (TRL `GRPOTrainer`), KL as β·k3 in the loss;
 * - `rloo`: leave-one-out baseline (TRL `RLOOTrainer`), KL as −β·Σ_t k1 in the sequence reward;
 * - `reinforce++`: per-token −β·KL reward + score, return-to-go normalised over the global batch (OpenRLHF).
 */
export type AdvantageEstimator = 'grpo' | 'rloo' | 'reinforce++';
export const ADVANTAGE_ESTIMATORS: readonly AdvantageEstimator[] = Object.freeze(['grpo', 'rloo', 'reinforce++'] as const);

export interface GrpoOptions {
  /** Default 'grpo'. */
  estimator?: AdvantageEstimator;
  /** Prompts per iteration on each rank. Default 4. */
  batchSize?: number;
  /** G: completions sampled per prompt. Default 8 (TRL). */
  numGenerations?: number;
  /** μ: passes over each generation batch (> 1 reuses it with old log-probs). Default 1 (TRL). */
  numIterations?: number;
  /** Optimizer steps per generation batch and pass (the batch is split into this many chunks of whole groups). Default 1. */
  stepsPerGeneration?: number;
  /** Default 1e-6 (TRL; tiny test models want ~1e-3). */
  learningRate?: number;
  /** KL weight β. Default 0 (TRL 1.x): no reference model is needed. */
  beta?: number;
  /** Default 0.2. */
  epsilonLow?: number;
  /** Default: epsilonLow. DAPO's clip-higher uses 0.28. */
  epsilonHigh?: number;
  /** Two-sided clip of the unclipped ratio (null: off). Default null. */
  delta?: number | null;
  /** Default 'dapo' (TRL 1.x). */
  lossType?: GrpoLossType;
  /** Default 'token'; 'sequence' is GSPO. */
  importanceSamplingLevel?: ImportanceSamplingLevel;
  /** Default 'group'. */
  scaleRewards?: RewardScaling;
  /** `rloo`: also normalise advantages over the batch. Default false. */
  rlooNormalize?: boolean;
  /** KL estimator in the reward of `rloo`/`reinforce++`. Default 'k1'. */
  klEstimator?: KlEstimator;
  /** `reinforce++` discount. Default 1. */
  gamma?: number;
  /** Max new tokens per completion (also the `dr_grpo` denominator). Default 32. */
  maxCompletionLength?: number;
  /** Default 1. */
  temperature?: number;
  /** Exclude completions that hit the length limit without EOS from the loss (TRL `mask_truncated_completions`). Default false. */
  maskTruncatedCompletions?: boolean;
  /** One weight per reward function (null: the functions' own weights, default 1). Default null. */
  rewardWeights?: readonly number[] | null;
  /** Iterations `train()` runs. Default 10. */
  iterations?: number;
  /** Default 0. */
  seed?: number;
  /** Gradient-norm clip (null: none). Default 1. */
  maxGradNorm?: number | null;
  /**
   * Recompute each of the policy's transformer blocks in the backward pass of the updates instead of holding its
   * activations (never applied to the reference). Same gradients, less memory, one more forward per update.
   * Default false.
   */
  gradientCheckpointing?: boolean;
}

export type GrpoConfig = Readonly<{
  [K in keyof GrpoOptions]-?: Exclude<GrpoOptions[K], undefined>;
}>;

export function resolveGrpoConfig(options: GrpoOptions = {}): GrpoConfig {
  const epsilonLow = options.epsilonLow ?? 0.2;
  const config: GrpoConfig = Object.freeze({
    estimator: options.estimator ?? 'grpo',
    batchSize: options.batchSize ?? 4,
    numGenerations: options.numGenerations ?? 8,
    numIterations: options.numIterations ?? 1,
    stepsPerGeneration: options.stepsPerGeneration ?? 1,
    learningRate: options.learningRate ?? 1e-6,
    beta: options.beta ?? 0,
    epsilonLow,
    epsilonHigh: options.epsilonHigh ?? epsilonLow,
    delta: options.delta ?? null,
    lossType: options.lossType ?? 'dapo',
    importanceSamplingLevel: options.importanceSamplingLevel ?? 'token',
    scaleRewards: options.scaleRewards ?? 'group',
    rlooNormalize: options.rlooNormalize ?? false,
    klEstimator: options.klEstimator ?? 'k1',
    gamma: options.gamma ?? 1,
    maxCompletionLength: options.maxCompletionLength ?? 32,
    temperature: options.temperature ?? 1,
    maskTruncatedCompletions: options.maskTruncatedCompletions ?? false,
    rewardWeights: options.rewardWeights === undefined || options.rewardWeights === null ? null : Object.freeze([...options.rewardWeights]),
    iterations: options.iterations ?? 10,
    seed: options.seed ?? 0,
    maxGradNorm: options.maxGradNorm === undefined ? 1 : options.maxGradNorm,
    gradientCheckpointing: options.gradientCheckpointing ?? false,
  });
  const problems: string[] = [];
  for (const name of ['batchSize', 'numIterations', 'stepsPerGeneration', 'maxCompletionLength', 'iterations'] as const) {
    const value = config[name];
    if (!(Number.isInteger(value) && value > 0)) problems.push(`${name} must be a positive integer, got ${value}`);
  }
  if (!(Number.isInteger(config.numGenerations) && config.numGenerations >= 2)) problems.push(`numGenerations must be an integer >= 2 (a group needs a baseline), got ${config.numGenerations}`);
  if (config.batchSize % config.stepsPerGeneration !== 0) problems.push(`batchSize ${config.batchSize} must be a multiple of stepsPerGeneration ${config.stepsPerGeneration} (groups are never split)`);
  for (const name of ['learningRate', 'beta'] as const) {
    if (!(Number.isFinite(config[name]) && config[name] >= 0)) problems.push(`${name} must be a finite number >= 0, got ${config[name]}`);
  }
  if (!(config.epsilonLow > 0 && config.epsilonLow < 1)) problems.push(`epsilonLow must be in (0, 1), got ${config.epsilonLow}`);
  if (!(config.epsilonHigh > 0)) problems.push(`epsilonHigh must be > 0, got ${config.epsilonHigh}`);
  if (config.delta !== null && !(config.delta > 1)) problems.push(`delta must be null or > 1, got ${config.delta}`);
  if (!(config.temperature > 0)) problems.push(`temperature must be > 0, got ${config.temperature}`);
  if (!(config.gamma >= 0 && config.gamma <= 1)) problems.push(`gamma must be in [0, 1], got ${config.gamma}`);
  if (config.maxGradNorm !== null && !(config.maxGradNorm > 0)) problems.push(`maxGradNorm must be null or > 0, got ${config.maxGradNorm}`);
  if (!ADVANTAGE_ESTIMATORS.includes(config.estimator)) problems.push(`estimator must be one of ${ADVANTAGE_ESTIMATORS.join(', ')}, got ${String(config.estimator)}`);
  if (!GRPO_LOSS_TYPES.includes(config.lossType)) problems.push(`lossType must be one of ${GRPO_LOSS_TYPES.join(', ')}, got ${String(config.lossType)}`);
  if (!IMPORTANCE_SAMPLING_LEVELS.includes(config.importanceSamplingLevel)) problems.push(`importanceSamplingLevel must be one of ${IMPORTANCE_SAMPLING_LEVELS.join(', ')}, got ${String(config.importanceSamplingLevel)}`);
  if (!REWARD_SCALINGS.includes(config.scaleRewards)) problems.push(`scaleRewards must be one of ${REWARD_SCALINGS.join(', ')}, got ${String(config.scaleRewards)}`);
  if (!KL_ESTIMATORS.includes(config.klEstimator)) problems.push(`klEstimator must be one of ${KL_ESTIMATORS.join(', ')}, got ${String(config.klEstimator)}`);
  if (config.estimator === 'reinforce++' && config.importanceSamplingLevel === 'sequence') problems.push("estimator 'reinforce++' gives per-token advantages: importanceSamplingLevel must be 'token'");
  if (config.rewardWeights !== null && config.rewardWeights.some((weight) => !Number.isFinite(weight))) problems.push(`rewardWeights must be finite numbers, got [${config.rewardWeights.join(', ')}]`);
  if (typeof config.gradientCheckpointing !== 'boolean') problems.push(`gradientCheckpointing must be true or false, got ${JSON.stringify(config.gradientCheckpointing)}`);
  if (!Number.isInteger(config.seed)) problems.push(`seed must be an integer, got ${config.seed}`);
  if (problems.length > 0) throw new ConfigError('GRPOTrainer', problems);
  return config;
}
