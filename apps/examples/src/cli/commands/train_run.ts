import { DATA_ERROR_CODES, DataError, IdentityReducer, loadDataset, writeFilesInto, type DatasetFormat, type DatasetRecord, type GradientReducer, type TrainerOptions } from '@rlhfjs/core';
import { numberOption, stringOption, type OptionValues } from '../option_spec';

/** Core's TrainerOptions from the CLI's loop options. Checkpoints and the JSONL metrics log go under `--output`. */
export function loopOptions(options: OptionValues): TrainerOptions {
  const maxSteps = options['maxSteps'];
  const maxGradNorm = numberOption(options, 'maxGradNorm');
  const progress = stringOption(options, 'progress') ?? 'auto';
  return {
    ...(typeof maxSteps === 'number' ? { maxSteps } : {}),
    epochs: numberOption(options, 'epochs'),
    batchSize: numberOption(options, 'batchSize'),
    gradientAccumulationSteps: numberOption(options, 'gradientAccumulationSteps'),
    learningRate: numberOption(options, 'learningRate'),
    lrScheduler: stringOption(options, 'lrScheduler') as TrainerOptions['lrScheduler'],
    warmupSteps: numberOption(options, 'warmupSteps'),
    weightDecay: numberOption(options, 'weightDecay'),
    maxGradNorm: maxGradNorm === 0 ? null : maxGradNorm,
    seed: numberOption(options, 'seed'),
    evalEvery: numberOption(options, 'evalEvery'),
    saveEvery: numberOption(options, 'saveEvery'),
    saveTotalLimit: numberOption(options, 'saveTotalLimit'),
    outputDir: stringOption(options, 'output') as string,
    resumeFrom: stringOption(options, 'resumeFrom') ?? null,
    overwriteOutputDir: options['overwrite'] === true,
    // auto: a bar on a terminal, else plain periodic lines (a command line run is watched, or logged to a file)
    progress: progress !== 'false',
  };
}

/** Loads a dataset file and checks that its records have one of the formats a trainer takes. */
export async function loadRecords(file: string, formats: readonly DatasetFormat[], flag: string): Promise<readonly DatasetRecord[]> {
  const dataset = await loadDataset(file);
  if (!formats.includes(dataset.format)) {
    throw new DataError(`${flag} holds ${dataset.format} records; this command needs ${formats.join(' or ')}`, { file, ...(dataset.fileType === 'json' ? { element: dataset.lines[0] ?? 0 } : { line: dataset.lines[0] ?? 1 }) }, { code: DATA_ERROR_CODES.unsupportedFormat });
  }
  return dataset.records;
}

/**
 * Writes a model into `output` without removing what training put there (checkpoints, metrics log), each file
 * replaced atomically (core's writeFilesInto: written in a staging folder, fsynced, renamed over the old file).
 */
export async function saveInto(output: string, write: (directory: string) => Promise<void>): Promise<void> {
  await writeFilesInto(output, write);
}

/**
 * Runs `fn` with a gradient reducer: the identity in a single process, @rlhfjs/dist's DDP reducer under a
 * launcher (`--nproc-per-node`, torchrun, Slurm…: WORLD_SIZE > 1). Only rank 0 writes the final model.
 */
export async function withReducer<T>(fn: (reducer: GradientReducer) => Promise<T>): Promise<T> {
  const worldSize = Number(process.env['WORLD_SIZE'] ?? '1');
  if (!(worldSize > 1)) return fn(new IdentityReducer());
  const dist = await import('@rlhfjs/dist');
  const group = await dist.initProcessGroup();
  try {
    return await fn(new dist.DistributedReducer(group));
  } finally {
    await group.destroy();
  }
}

/** The one-line summary every trainer command prints last, on stdout. */
export function summaryLine(command: string, fields: Readonly<Record<string, string | number | null>>): string {
  const parts = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'number' ? formatNumber(value) : value === null ? 'n/a' : value}`);
  return `${command}: ${parts.join(' ')}\n`;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1e-3 ? value.toFixed(4) : value.toExponential(3);
}

/** The last value of a metric in a training history. */
export function lastMetric(history: readonly Readonly<Record<string, number>>[], key: string): number | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const value = history[i]?.[key];
    if (typeof value === 'number') return value;
  }
  return null;
}
