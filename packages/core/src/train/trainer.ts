import * as tf from '@tensorflow/tfjs';
import { SingleBar } from 'cli-progress';
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError, ConfigError } from '../errors/errors';
import { AdamW } from '../optim/adamw';
import { createLrSchedule } from '../optim/lr_schedule';
import { createRng } from '../data/rng';
import { loadTrainerCheckpoint, readTrainerState, saveTrainerCheckpoint } from './checkpoint';
import { OUTPUT_DIR_ERROR_CODES, prepareOutputDir } from './output_dir';
import { IdentityReducer, type GradientReducer } from './reducer';
import { trainStep, type LossResult } from './train_step';
export type { LossResult } from './train_step';
import { resolveTrainerConfig, type TrainerConfig, type TrainerOptions } from './trainer_config';

/** Global counts of one optimizer step (all micro-batches of all ranks), for `aggregateLoss`. */
export interface StepCounts {
  tokens: number;
  sequences: number;
  worldSize: number;
}

/** What a concrete trainer (SFT, reward, DPO, PPO) plugs into the shared loop. */
export interface TrainerTask<Example> {
  /** Short name for logs, e.g. 'sft'. */
  readonly name: string;
  readonly examples: readonly Example[];
  /** The variables to train. */
  readonly parameters: ReadonlyMap<string, tf.Variable>;
  /** Loss of one micro-batch, normalised with the step's global counts. */
  computeLoss(batch: readonly Example[], counts: StepCounts): LossResult;
  /** Loss-carrying tokens and sequences of a micro-batch (summed over the step and ranks). */
  countUnits(batch: readonly Example[]): { tokens: number; sequences: number };
  /** Held-out metrics (prefixed with `eval/` in the log). */
  evaluate?(): Promise<Record<string, number>>;
  /** Extra state saved with checkpoints (e.g. a KL controller). */
  saveExtraState?(): unknown;
  loadExtraState?(state: unknown): void;
  /**
   * Writes what is needed to load a checkpoint as a model into the folder given (config.json + model.safetensors +
   * tokenizer files, or a PEFT adapter with adapter_config.json), so `checkpoint-N/` loads like HF Trainer's.
   */
  saveModel?(directory: string): Promise<void>;
  /**
   * Other files the task keeps in outputDir that belong to one run (e.g. DPO's reference log-prob cache): they mark
   * the directory as used and are removed with the run by overwriteOutputDir.
   */
  readonly runFiles?: readonly string[];
}

export interface LogRecord {
  step: number;
  [metric: string]: number;
}

/** How often the progress display prints a line when stderr is not a terminal (`RLHFJS_PROGRESS_INTERVAL_MS` overrides). */
export const PROGRESS_LINE_INTERVAL_MS = 10_000;

function progressLineInterval(): number {
  const fromEnv = Number(process.env['RLHFJS_PROGRESS_INTERVAL_MS']);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : PROGRESS_LINE_INTERVAL_MS;
}

/** Observers of the loop (progress displays, memory probes in tests); they must not change training. */
export interface TrainerHooks {
  /** Before each optimizer step; `step` is the number of steps already done. */
  beforeStep?(step: number): void;
  /** After each step's log record is made. */
  afterStep?(record: LogRecord): void;
}

export interface TrainResult {
  steps: number;
  history: LogRecord[];
  evaluations: LogRecord[];
  lastCheckpoint: string | null;
}

/** Examples of epoch `epoch` in the order training sees them: a seeded permutation, the same on every rank. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const rng = createRng(seed * 1000003 + epoch);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/**
 * The loop every trainer shares: epochs or max steps over seeded shuffles, gradient accumulation, the shared
 * `trainStep`, evaluation every N steps, a JSONL metrics log and a progress bar, atomic checkpoints every N steps
 * (only rank 0 writes), and `resumeFrom` that continues exactly where a checkpoint left off.
 */
export class Trainer<Example> {
  readonly config: TrainerConfig;
  readonly optimizer: AdamW;
  private readonly reducer: GradientReducer;

  private readonly hooks: TrainerHooks;

  constructor(private readonly task: TrainerTask<Example>, options: TrainerOptions = {}, collaborators: { reducer?: GradientReducer; optimizer?: AdamW; hooks?: TrainerHooks } = {}) {
    this.config = resolveTrainerConfig(options, `${task.name} trainer`);
    this.hooks = collaborators.hooks ?? {};
    this.reducer = collaborators.reducer ?? new IdentityReducer();
    this.optimizer = collaborators.optimizer ?? new AdamW({ weightDecay: this.config.weightDecay });
  }

  /** Examples one optimizer step consumes across all ranks. */
  get examplesPerStep(): number {
    return this.config.batchSize * this.config.gradientAccumulationSteps * this.reducer.worldSize;
  }

  get totalSteps(): number {
    const perEpoch = Math.floor(this.task.examples.length / this.examplesPerStep);
    return this.config.maxSteps ?? Math.max(1, perEpoch * this.config.epochs);
  }

  async train(): Promise<TrainResult> {
    const { config, task, reducer } = this;
    const count = task.examples.length;
    if (count < this.examplesPerStep) {
      throw new ConfigError(`${task.name} trainer`, [`${count} examples are fewer than one optimizer step needs (${this.examplesPerStep} = batchSize × gradientAccumulationSteps × worldSize)`]);
    }
    const total = this.totalSteps;
    const schedule = createLrSchedule({ type: config.lrScheduler, learningRate: config.learningRate, warmupSteps: config.warmupSteps, totalSteps: total });
    let step = 0;
    let consumed = 0;
    let lastCheckpoint: string | null = null;
    const resumeDirectory = await this.prepareOutputDir();
    this.prepared = null; // a later train() call checks the directory again
    if (resumeDirectory !== null) {
      const state = await loadTrainerCheckpoint(resumeDirectory, task.parameters, this.optimizer);
      ({ step, consumed } = state);
      task.loadExtraState?.(state.extra);
      lastCheckpoint = resumeDirectory;
    }
    const logFile = config.outputDir === null ? null : path.join(config.outputDir, `${task.name}_metrics.jsonl`);
    if (logFile !== null && reducer.rank === 0) await fs.mkdir(path.dirname(logFile), { recursive: true });
    const showProgress = reducer.rank === 0 && (config.progress === true || (config.progress === 'auto' && process.stderr.isTTY === true));
    // On a terminal a bar redrawn in place; otherwise (a log file, CI) a plain line every PROGRESS_LINE_INTERVAL_MS.
    const onTerminal = process.stderr.isTTY === true;
    const lineInterval = progressLineInterval();
    const bar = showProgress
      ? new SingleBar({
          format: onTerminal ? `${task.name} [{bar}] {value}/{total} | loss {loss} | lr {lr} | {tps} tok/s | ETA {eta_formatted}` : `${task.name} {value}/{total} | loss {loss} | lr {lr} | {tps} tok/s | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: onTerminal,
          noTTYOutput: true,
          notTTYSchedule: lineInterval,
          clearOnComplete: !onTerminal, // no blank line after the last plain line (the bar itself stays on a terminal)
        })
      : null;
    bar?.start(total, step, { loss: '-', lr: '-', tps: '-' });
    // cli-progress prints plain lines from a timer, which a loop of synchronous kernels starves: print them from here too
    let lastLine = Date.now();
    const history: LogRecord[] = [];
    const evaluations: LogRecord[] = [];
    let order = epochOrder(count, config.seed, Math.floor(consumed / count));
    const nextMicroBatch = (): Example[] => {
      const batch: Example[] = [];
      const globalSize = config.batchSize * reducer.worldSize;
      // a step never straddles an epoch: drop the tail of an epoch that cannot fill a whole micro-batch
      if ((consumed % count) + globalSize > count) consumed += count - (consumed % count);
      if (consumed % count === 0) order = epochOrder(count, config.seed, consumed / count);
      const start = (consumed % count) + reducer.rank * config.batchSize;
      for (let i = 0; i < config.batchSize; i++) batch.push(task.examples[order[start + i] as number] as Example);
      consumed += globalSize;
      return batch;
    };
    try {
      while (step < total) {
        this.hooks.beforeStep?.(step);
        const started = Date.now();
        const microBatches = Array.from({ length: config.gradientAccumulationSteps }, nextMicroBatch);
        const local = microBatches.map((batch) => task.countUnits(batch));
        const [tokens, sequences] = await reducer.allReduceSum([local.reduce((s, c) => s + c.tokens, 0), local.reduce((s, c) => s + c.sequences, 0)]);
        const counts: StepCounts = { tokens: tokens as number, sequences: sequences as number, worldSize: reducer.worldSize };
        const learningRate = schedule(step);
        const result = await trainStep({
          lossFns: microBatches.map((batch) => () => task.computeLoss(batch, counts)),
          parameters: task.parameters,
          optimizer: this.optimizer,
          learningRate,
          reducer,
          maxGradNorm: config.maxGradNorm,
          onNonFinite: config.onNonFinite,
          step: step + 1,
        });
        step += 1;
        const [globalLoss] = await reducer.allReduceSum([result.loss]);
        const seconds = (Date.now() - started) / 1000;
        const record: LogRecord = { step, loss: (globalLoss as number) / reducer.worldSize, learningRate, gradNorm: result.gradNorm, tokensPerSecond: counts.tokens / seconds, skipped: result.skipped ? 1 : 0, ...result.metrics };
        history.push(record);
        this.hooks.afterStep?.(record);
        if (logFile !== null && reducer.rank === 0) await fs.appendFile(logFile, `${JSON.stringify({ stage: task.name, ...record })}\n`);
        bar?.update(step, { loss: ((globalLoss as number) / reducer.worldSize).toFixed(4), lr: learningRate.toExponential(2), tps: Math.round(counts.tokens / seconds) });
        if (bar !== null && !onTerminal && Date.now() - lastLine >= lineInterval) {
          bar.render();
          lastLine = Date.now();
        }
        if (task.evaluate !== undefined && ((config.evalEvery > 0 && step % config.evalEvery === 0) || step === total)) {
          const metrics = await task.evaluate();
          const evaluation: LogRecord = { step, ...Object.fromEntries(Object.entries(metrics).map(([key, value]) => [`eval/${key}`, value])) };
          evaluations.push(evaluation);
          if (logFile !== null && reducer.rank === 0) await fs.appendFile(logFile, `${JSON.stringify({ stage: task.name, ...evaluation })}\n`);
        }
        if (config.saveEvery > 0 && step % config.saveEvery === 0 && reducer.rank === 0) {
          const state = { step, consumed, seed: config.seed, extra: task.saveExtraState?.() ?? null };
          const saveModel = task.saveModel?.bind(task);
          lastCheckpoint = await saveTrainerCheckpoint(config.outputDir as string, task.parameters, this.optimizer, state, config.saveTotalLimit, saveModel === undefined ? {} : { saveModel });
        }
      }
    } finally {
      bar?.stop();
    }
    return { steps: step, history, evaluations, lastCheckpoint };
  }

  /**
   * Readies the output directory (see core's prepareOutputDir: leftovers cleaned, another run refused unless
   * overwriting or resuming, a resumed run's later checkpoints and log records cut) and resolves to the checkpoint
   * to resume, if any. `train()` calls it; a task that reads run files before training (a cache) calls it first.
   */
  prepareOutputDir(): Promise<string | null> {
    this.prepared ??= this.prepareOutput(this.totalSteps).catch((error: unknown) => {
      this.prepared = null;
      throw error;
    });
    return this.prepared;
  }

  private prepared: Promise<string | null> | null = null;

  private async prepareOutput(total: number): Promise<string | null> {
    const { config, task, reducer } = this;
    if (config.outputDir !== null) {
      const prepared = await prepareOutputDir({
        where: `${task.name} trainer`,
        outputDir: config.outputDir,
        metricsLog: `${task.name}_metrics.jsonl`,
        runFiles: task.runFiles ?? [],
        overwrite: config.overwriteOutputDir,
        resumeFrom: config.resumeFrom,
        totalSteps: total,
        writer: reducer.rank === 0,
      });
      return prepared.resumeDirectory;
    }
    if (config.resumeFrom === null) return null;
    const state = await readTrainerState(config.resumeFrom);
    if (state.step > total) {
      throw new CheckpointError(`${task.name} trainer: ${path.join(config.resumeFrom, 'trainer_state.json')} field "step" is ${state.step}, beyond this run's ${total} steps`, {
        code: OUTPUT_DIR_ERROR_CODES.mismatch,
      });
    }
    return config.resumeFrom;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
