import { ConfigError } from '../errors/errors';
import type { LrScheduleType } from '../optim/lr_schedule';

export interface TrainerOptions {
  /** Optimizer steps to run; default: `epochs` × steps per epoch. */
  maxSteps?: number;
  /** Default 1 (used when maxSteps is absent). */
  epochs?: number;
  /** Examples per micro-batch per rank (default 8). */
  batchSize?: number;
  /** Micro-batches summed per optimizer step (default 1). */
  gradientAccumulationSteps?: number;
  /** Peak learning rate (default 5e-5, as transformers' TrainingArguments). */
  learningRate?: number;
  /** Default 'linear'. */
  lrScheduler?: LrScheduleType;
  /** Default 0. */
  warmupSteps?: number;
  /** AdamW decoupled weight decay (default 0, as TrainingArguments). */
  weightDecay?: number;
  /** Clip the global gradient norm (default 1.0; null disables). */
  maxGradNorm?: number | null;
  /** Shuffling seed (default 42). */
  seed?: number;
  /** Evaluate every N steps (0: only at the end; default 0). */
  evalEvery?: number;
  /** Checkpoint every N steps (0: never; default 0). Needs outputDir. */
  saveEvery?: number;
  /** Keep the last K checkpoints (default 2). */
  saveTotalLimit?: number;
  /** Where checkpoints and the metrics log go (default null: nowhere). */
  outputDir?: string | null;
  /**
   * A checkpoint directory, or 'latest' for the newest under outputDir (none there is a CheckpointError). Resuming a
   * checkpoint of outputDir continues that run: its later checkpoints are deleted and its metrics log is cut back.
   */
  resumeFrom?: string | null;
  /**
   * An outputDir that holds another run (checkpoints, a metrics log, a saved model) is refused unless this is true
   * (then its checkpoints and metrics logs are removed before training) or resumeFrom continues it (default false).
   */
  overwriteOutputDir?: boolean;
  /** A NaN/infinite loss: throw a TrainingError naming the step (default), or skip the batch. */
  onNonFinite?: 'error' | 'skip';
  /**
   * Progress on stderr: 'auto' (a bar on a terminal, else nothing; default), true (a bar on a terminal, else a plain
   * line every 10 s: log files, CI), false.
   */
  progress?: boolean | 'auto';
}

export interface TrainerConfig {
  readonly maxSteps: number | null;
  readonly epochs: number;
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly learningRate: number;
  readonly lrScheduler: LrScheduleType;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number | null;
  readonly seed: number;
  readonly evalEvery: number;
  readonly saveEvery: number;
  readonly saveTotalLimit: number;
  readonly outputDir: string | null;
  readonly resumeFrom: string | null;
  readonly overwriteOutputDir: boolean;
  readonly onNonFinite: 'error' | 'skip';
  readonly progress: boolean | 'auto';
}

export function resolveTrainerConfig(options: TrainerOptions = {}, where = 'resolveTrainerConfig'): TrainerConfig {
  const config: TrainerConfig = {
    maxSteps: options.maxSteps ?? null,
    epochs: options.epochs ?? 1,
    batchSize: options.batchSize ?? 8,
    gradientAccumulationSteps: options.gradientAccumulationSteps ?? 1,
    learningRate: options.learningRate ?? 5e-5,
    lrScheduler: options.lrScheduler ?? 'linear',
    warmupSteps: options.warmupSteps ?? 0,
    weightDecay: options.weightDecay ?? 0,
    maxGradNorm: options.maxGradNorm === undefined ? 1 : options.maxGradNorm,
    seed: options.seed ?? 42,
    evalEvery: options.evalEvery ?? 0,
    saveEvery: options.saveEvery ?? 0,
    saveTotalLimit: options.saveTotalLimit ?? 2,
    outputDir: options.outputDir ?? null,
    resumeFrom: options.resumeFrom ?? null,
    overwriteOutputDir: options.overwriteOutputDir ?? false,
    onNonFinite: options.onNonFinite ?? 'error',
    progress: options.progress ?? 'auto',
  };
  const problems: string[] = [];
  const positiveInteger = (name: keyof TrainerConfig, allowZero = false): void => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
      problems.push(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`);
    }
  };
  if (config.maxSteps !== null) positiveInteger('maxSteps');
  positiveInteger('epochs');
  positiveInteger('batchSize');
  positiveInteger('gradientAccumulationSteps');
  positiveInteger('warmupSteps', true);
  positiveInteger('evalEvery', true);
  positiveInteger('saveEvery', true);
  positiveInteger('saveTotalLimit');
  if (!(config.learningRate >= 0 && Number.isFinite(config.learningRate))) problems.push(`learningRate must be a finite number ≥ 0, got ${config.learningRate}`);
  if (!(config.weightDecay >= 0)) problems.push(`weightDecay must be ≥ 0, got ${config.weightDecay}`);
  if (config.maxGradNorm !== null && !(config.maxGradNorm > 0)) problems.push(`maxGradNorm must be > 0 or null, got ${config.maxGradNorm}`);
  if (!['constant', 'linear', 'cosine'].includes(config.lrScheduler)) problems.push(`lrScheduler must be constant, linear or cosine, got ${JSON.stringify(config.lrScheduler)}`);
  if (!['error', 'skip'].includes(config.onNonFinite)) problems.push(`onNonFinite must be 'error' or 'skip', got ${JSON.stringify(config.onNonFinite)}`);
  if (config.saveEvery > 0 && config.outputDir === null) problems.push('saveEvery needs an outputDir');
  if (config.resumeFrom === 'latest' && config.outputDir === null) problems.push("resumeFrom: 'latest' needs an outputDir");
  if (config.resumeFrom === 'latest' && config.overwriteOutputDir === true) problems.push("resumeFrom: 'latest' continues the run in outputDir, overwriteOutputDir: true would delete it; pass one of them");
  if (typeof config.overwriteOutputDir !== 'boolean') problems.push(`overwriteOutputDir must be a boolean, got ${JSON.stringify(config.overwriteOutputDir)}`);
  if (config.resumeFrom !== null && (typeof config.resumeFrom !== 'string' || config.resumeFrom === '')) problems.push(`resumeFrom must be a checkpoint directory or 'latest', got ${JSON.stringify(config.resumeFrom)}`);
  if (problems.length > 0) throw new ConfigError(where, problems);
  return Object.freeze(config);
}
