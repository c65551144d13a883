import { ConfigError } from '../errors/errors';

/**
 * Learning-rate schedules with linear warmup, matching Hugging Face transformers' `optimization.py`:
 * - `constant`: `get_constant_schedule_with_warmup`
 * - `linear`:   `get_linear_schedule_with_warmup`
 * - `cosine`:   `get_cosine_schedule_with_warmup`, and with `minLearningRate > 0`
 *               `get_cosine_with_min_lr_schedule_with_warmup` (`min_lr_rate = minLearningRate / learningRate`).
 *
 * Step convention: `schedule(step)` is the learning rate used for optimizer update number `step`, counted from 0.
 * This is what transformers does: `LambdaLR` evaluates the multiplier at `last_epoch = 0` when it is built, the
 * first `optimizer.step()` uses it, and `scheduler.step()` runs after each optimizer step. So with warmup the
 * first update uses lr 0 (`schedule(0) = 0`), as in transformers. A trainer does:
 * `optimizer.step(params, grads, schedule(updatesDoneSoFar))`.
 *
 * Past `totalSteps` the formulas are applied as transformers applies them (linear stays at 0; cosine keeps
 * following the cosine, so with `numCycles = 0.5` it rises again past `totalSteps`).
 */
export type LrScheduleType = 'constant' | 'linear' | 'cosine';

export interface LrScheduleOptions {
  /** Default `'constant'`. */
  type?: LrScheduleType;
  /** Peak learning rate, reached at the end of warmup. Required. */
  learningRate?: number;
  /** Default 0. */
  warmupSteps?: number;
  /** Total optimizer updates; required for `linear` and `cosine`. */
  totalSteps?: number;
  /** Floor of the cosine schedule (transformers' `min_lr`). Default 0; only `cosine` accepts a non-zero value. */
  minLearningRate?: number;
  /** Number of cosine waves over the decay; default 0.5 (one half-wave from peak to floor). */
  numCycles?: number;
}

export interface LrScheduleConfig {
  readonly type: LrScheduleType;
  readonly learningRate: number;
  readonly warmupSteps: number;
  /** 0 when not given (only allowed for `constant`). */
  readonly totalSteps: number;
  readonly minLearningRate: number;
  readonly numCycles: number;
}

export type LrSchedule = (step: number) => number;

const SCHEDULE_TYPES: readonly LrScheduleType[] = ['constant', 'linear', 'cosine'];

function isNonNegativeInteger(value: number): boolean {
  return Number.isInteger(value) && value >= 0;
}

export function resolveLrScheduleConfig(options: LrScheduleOptions): LrScheduleConfig {
  const problems: string[] = [];
  const type = options.type ?? 'constant';
  const learningRate = options.learningRate;
  const warmupSteps = options.warmupSteps ?? 0;
  const totalSteps = options.totalSteps;
  const minLearningRate = options.minLearningRate ?? 0;
  const numCycles = options.numCycles ?? 0.5;

  if (!SCHEDULE_TYPES.includes(type)) {
    problems.push(`type must be one of ${SCHEDULE_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  }
  if (learningRate === undefined) {
    problems.push('learningRate is required');
  } else if (!Number.isFinite(learningRate) || learningRate < 0) {
    problems.push(`learningRate must be a finite number >= 0, got ${learningRate}`);
  }
  if (!isNonNegativeInteger(warmupSteps)) {
    problems.push(`warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  }
  if (totalSteps === undefined) {
    if (type === 'linear' || type === 'cosine') {
      problems.push(`totalSteps is required for type "${type}"`);
    }
  } else if (!isNonNegativeInteger(totalSteps) || totalSteps < 1) {
    problems.push(`totalSteps must be an integer >= 1, got ${totalSteps}`);
  } else if (isNonNegativeInteger(warmupSteps) && warmupSteps > totalSteps) {
    problems.push(`warmupSteps (${warmupSteps}) must be <= totalSteps (${totalSteps})`);
  }
  if (!Number.isFinite(minLearningRate) || minLearningRate < 0) {
    problems.push(`minLearningRate must be a finite number >= 0, got ${minLearningRate}`);
  } else if (minLearningRate > 0 && type !== 'cosine') {
    problems.push(`minLearningRate is only supported for type "cosine", got ${minLearningRate} with "${type}"`);
  } else if (learningRate !== undefined && learningRate >= 0 && minLearningRate > learningRate) {
    problems.push(`minLearningRate (${minLearningRate}) must be <= learningRate (${learningRate})`);
  }
  if (!Number.isFinite(numCycles) || numCycles <= 0) {
    problems.push(`numCycles must be a finite number > 0, got ${numCycles}`);
  }
  if (problems.length > 0 || learningRate === undefined) {
    throw new ConfigError('resolveLrScheduleConfig', problems);
  }
  return Object.freeze({
    type,
    learningRate,
    warmupSteps,
    totalSteps: totalSteps ?? 0,
    minLearningRate,
    numCycles,
  });
}

/** The multiplier of `learningRate` for 0-based update `step` (transformers' `lr_lambda`). */
function multiplier(config: LrScheduleConfig, step: number): number {
  const { warmupSteps, totalSteps } = config;
  if (step < warmupSteps) {
    return step / Math.max(1, warmupSteps);
  }
  switch (config.type) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case 'cosine': {
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      const cosine = 0.5 * (1 + Math.cos(Math.PI * config.numCycles * 2 * progress));
      const minRate = config.learningRate > 0 ? config.minLearningRate / config.learningRate : 0;
      return Math.max(0, cosine * (1 - minRate) + minRate);
    }
    default: {
      const unreachable: never = config.type;
      throw new ConfigError('createLrSchedule', [`unknown schedule type ${JSON.stringify(unreachable)}`]);
    }
  }
}

/** Build a schedule; see the file comment for the step convention. */
export function createLrSchedule(options: LrScheduleOptions): LrSchedule {
  const config = resolveLrScheduleConfig(options);
  return (step: number): number => {
    if (!Number.isFinite(step) || step < 0) {
      throw new ConfigError('LrSchedule', [`step must be a finite number >= 0, got ${step}`]);
    }
    return config.learningRate * multiplier(config, step);
  };
}
