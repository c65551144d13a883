import { ConfigError } from '@rlhfjs/core';
import { KL_ESTIMATORS, type KlEstimator } from '../kl/kl_estimators';

export interface PpoOptions {
  /** Prompts per iteration (per rank). Default 8. */
  batchSize?: number;
  /**
   * Prompts sampled per `generate` call, each chunk with the seed of its global index (null: the whole batch in one
   * call). A divisor of batchSize; set it to the per-rank batch to make N ranks × B sample exactly like 1 × N·B.
   * Default null.
   */
  generationChunkSize?: number | null;
  /** Rollouts per gradient update. Default 4. */
  miniBatchSize?: number;
  /** Passes over each batch of rollouts. Default 4. */
  ppoEpochs?: number;
  /** Default 1e-5 (a pretrained-model value; tiny test models want ~1e-3). */
  learningRate?: number;
  /** Initial KL coefficient β. Default 0.05. */
  klCoef?: number;
  /** Default 'k1' (TRL). */
  klEstimator?: KlEstimator;
  /** Adaptive KL target (null: fixed β). Default null. */
  adaptiveKlTarget?: number | null;
  /** Adaptive KL horizon in samples. Default 10000. */
  adaptiveKlHorizon?: number;
  /** Default 1. */
  gamma?: number;
  /** Default 0.95. */
  lambda?: number;
  /** Default 0.2. */
  clipRange?: number;
  /** Default 0.2. */
  clipRangeValue?: number;
  /** Value-loss weight. Default 0.1. */
  vfCoef?: number;
  /** Default 32. */
  maxNewTokens?: number;
  /** Sampling temperature (also used to score). Default 1. */
  temperature?: number;
  /** Subtracted from the score of completions without EOS (null: none). Default null. */
  missingEosPenalty?: number | null;
  /** Clip scores to ±this (null: none). Default null. */
  scoreClip?: number | null;
  /** PPO iterations `train()` runs. Default 10. */
  iterations?: number;
  /** Default 0. */
  seed?: number;
  /** Gradient-norm clip. Default 1. */
  maxGradNorm?: number | null;
  /** Stop the PPO epochs of an iteration early when the mean approx-KL exceeds 1.5 × this (null: off). Default null. */
  targetKl?: number | null;
  /** PPO-ptx weight of the SFT loss on pretraining examples. Default 0 (off). */
  ptxCoef?: number;
  /** Warn when the mean per-sequence KL exceeds this. Default 10. */
  klWarnThreshold?: number;
  /** Warn when the std of the scores falls below this. Default 1e-4. */
  scoreStdWarnThreshold?: number;
  /**
   * Recompute each transformer block's activations in the backward pass of the updates instead of holding them
   * (the policy, and a `separate` critic's backbone; never the reference). Same gradients, less memory, one more
   * forward per update. Default false.
   */
  gradientCheckpointing?: boolean;
}

export type PpoConfig = Readonly<{
  [K in keyof PpoOptions]-?: Exclude<PpoOptions[K], undefined>;
}>;

export function resolvePpoConfig(options: PpoOptions = {}): PpoConfig {
  const config: PpoConfig = Object.freeze({
    batchSize: options.batchSize ?? 8,
    miniBatchSize: options.miniBatchSize ?? 4,
    generationChunkSize: options.generationChunkSize ?? null,
    ppoEpochs: options.ppoEpochs ?? 4,
    learningRate: options.learningRate ?? 1e-5,
    klCoef: options.klCoef ?? 0.05,
    klEstimator: options.klEstimator ?? 'k1',
    adaptiveKlTarget: options.adaptiveKlTarget ?? null,
    adaptiveKlHorizon: options.adaptiveKlHorizon ?? 10000,
    gamma: options.gamma ?? 1,
    lambda: options.lambda ?? 0.95,
    clipRange: options.clipRange ?? 0.2,
    clipRangeValue: options.clipRangeValue ?? 0.2,
    vfCoef: options.vfCoef ?? 0.1,
    maxNewTokens: options.maxNewTokens ?? 32,
    temperature: options.temperature ?? 1,
    missingEosPenalty: options.missingEosPenalty ?? null,
    scoreClip: options.scoreClip ?? null,
    iterations: options.iterations ?? 10,
    seed: options.seed ?? 0,
    maxGradNorm: options.maxGradNorm === undefined ? 1 : options.maxGradNorm,
    targetKl: options.targetKl ?? null,
    ptxCoef: options.ptxCoef ?? 0,
    klWarnThreshold: options.klWarnThreshold ?? 10,
    scoreStdWarnThreshold: options.scoreStdWarnThreshold ?? 1e-4,
    gradientCheckpointing: options.gradientCheckpointing ?? false,
  });
  const problems: string[] = [];
  const positiveInteger = (name: keyof PpoConfig): void => {
    const value = config[name] as number;
    if (!(Number.isInteger(value) && value > 0)) problems.push(`${name} must be a positive integer, got ${value}`);
  };
  for (const name of ['batchSize', 'miniBatchSize', 'ppoEpochs', 'maxNewTokens', 'iterations'] as const) positiveInteger(name);
  if (config.generationChunkSize !== null && !(Number.isInteger(config.generationChunkSize) && config.generationChunkSize > 0 && config.batchSize % config.generationChunkSize === 0)) {
    problems.push(`generationChunkSize must be null or a positive divisor of batchSize ${config.batchSize}, got ${config.generationChunkSize}`);
  }
  if (config.batchSize % config.miniBatchSize !== 0) problems.push(`batchSize ${config.batchSize} must be a multiple of miniBatchSize ${config.miniBatchSize}`);
  const nonNegative = (name: keyof PpoConfig): void => {
    const value = config[name] as number;
    if (!(Number.isFinite(value) && value >= 0)) problems.push(`${name} must be a finite number >= 0, got ${value}`);
  };
  for (const name of ['learningRate', 'klCoef', 'vfCoef', 'ptxCoef', 'klWarnThreshold', 'scoreStdWarnThreshold'] as const) nonNegative(name);
  for (const name of ['clipRange', 'clipRangeValue', 'temperature', 'adaptiveKlHorizon'] as const) {
    if (!((config[name] as number) > 0)) problems.push(`${name} must be > 0, got ${config[name]}`);
  }
  for (const name of ['adaptiveKlTarget', 'scoreClip', 'targetKl', 'maxGradNorm', 'missingEosPenalty'] as const) {
    const value = config[name];
    if (value !== null && !(Number.isFinite(value) && (name === 'missingEosPenalty' ? value >= 0 : value > 0))) problems.push(`${name} must be null or > 0, got ${value}`);
  }
  if (!(config.gamma >= 0 && config.gamma <= 1)) problems.push(`gamma must be in [0, 1], got ${config.gamma}`);
  if (!(config.lambda >= 0 && config.lambda <= 1)) problems.push(`lambda must be in [0, 1], got ${config.lambda}`);
  if (!KL_ESTIMATORS.includes(config.klEstimator)) problems.push(`klEstimator must be one of ${KL_ESTIMATORS.join(', ')}, got ${config.klEstimator}`);
  if (typeof config.gradientCheckpointing !== 'boolean') problems.push(`gradientCheckpointing must be true or false, got ${JSON.stringify(config.gradientCheckpointing)}`);
  if (!Number.isInteger(config.seed)) problems.push(`seed must be an integer, got ${config.seed}`);
  if (problems.length > 0) throw new ConfigError('PPOTrainer', problems);
  return config;
}
