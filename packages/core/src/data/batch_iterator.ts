/**
 * Seeded batches of dataset indices, epoch after epoch, like PyTorch's DataLoader sampler, with a position that can
 * be saved into a checkpoint and restored exactly: a restored iterator yields the very batches the original would
 * have yielded next.
 *
 * Each epoch's order is a Fisher–Yates shuffle drawn from one generator that runs on across epochs (seeded once);
 * the state keeps the generator's state at the start of the current epoch, so restoring re-draws that epoch's
 * order and leaves the generator where the original's was.
 */
import { CheckpointError, ConfigError } from '../errors/errors';
import { type Rng, type RngState, createRng, shuffleIndices } from './rng';

export interface BatchIteratorOptions {
  readonly batchSize: number;
  /** Shuffle every epoch; default true. */
  readonly shuffle?: boolean;
  /** Seed of the shuffles; default 0. */
  readonly seed?: number;
  /** Drop the last batch of an epoch when it is smaller than batchSize; default false. */
  readonly dropLast?: boolean;
}

export interface BatchIteratorConfig {
  readonly datasetLength: number;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
}

/** The saved position: JSON-serialisable. */
export interface BatchIteratorState extends BatchIteratorConfig {
  /** The current epoch, from 0. */
  readonly epoch: number;
  /** How many batches of the current epoch were already handed out. */
  readonly batchIndex: number;
  /** The generator's state at the start of the current epoch, before its shuffle. */
  readonly epochRngState: RngState;
}

export interface IndexBatch {
  readonly epoch: number;
  /** Index of this batch within its epoch. */
  readonly batchIndex: number;
  readonly indices: number[];
}

export function resolveBatchIteratorConfig(datasetLength: number, options: BatchIteratorOptions): BatchIteratorConfig {
  const config = {
    datasetLength,
    batchSize: options.batchSize,
    shuffle: options.shuffle ?? true,
    seed: options.seed ?? 0,
    dropLast: options.dropLast ?? false,
  };
  const problems: string[] = [];
  if (!Number.isSafeInteger(datasetLength) || datasetLength < 1) {
    problems.push(`datasetLength must be a positive integer, got ${String(datasetLength)}`);
  }
  if (!Number.isSafeInteger(config.batchSize) || config.batchSize < 1) {
    problems.push(`batchSize must be a positive integer, got ${String(config.batchSize)}`);
  }
  if (typeof config.shuffle !== 'boolean') problems.push(`shuffle must be a boolean, got ${String(config.shuffle)}`);
  if (!Number.isSafeInteger(config.seed)) problems.push(`seed must be a safe integer, got ${String(config.seed)}`);
  if (typeof config.dropLast !== 'boolean') problems.push(`dropLast must be a boolean, got ${String(config.dropLast)}`);
  if (problems.length === 0 && config.dropLast && datasetLength < config.batchSize) {
    problems.push(`dropLast with batchSize ${config.batchSize} > datasetLength ${datasetLength} leaves no batches`);
  }
  if (problems.length > 0) throw new ConfigError('batchIterator', problems);
  return Object.freeze(config);
}

export class BatchIterator implements Iterable<IndexBatch> {
  readonly config: BatchIteratorConfig;
  readonly batchesPerEpoch: number;
  private readonly rng: Rng;
  private epoch: number;
  private batchIndex: number;
  private epochRngState: RngState;
  private order: number[];

  constructor(datasetLength: number, options: BatchIteratorOptions, resumeFrom?: BatchIteratorState) {
    this.config = resolveBatchIteratorConfig(datasetLength, options);
    const { batchSize, dropLast } = this.config;
    this.batchesPerEpoch = dropLast ? Math.floor(datasetLength / batchSize) : Math.ceil(datasetLength / batchSize);
    if (resumeFrom === undefined) {
      this.epoch = 0;
      this.batchIndex = 0;
      this.rng = createRng(this.config.seed);
    } else {
      this.checkResumable(resumeFrom);
      this.epoch = resumeFrom.epoch;
      this.batchIndex = resumeFrom.batchIndex;
      this.rng = createRng(resumeFrom.epochRngState);
    }
    this.epochRngState = this.rng.getState();
    this.order = this.drawOrder();
  }

  /** The next batch, moving on to a new epoch (and a new order) when the current one is used up. */
  next(): IndexBatch {
    if (this.batchIndex >= this.batchesPerEpoch) {
      this.epoch += 1;
      this.batchIndex = 0;
      this.epochRngState = this.rng.getState();
      this.order = this.drawOrder();
    }
    const start = this.batchIndex * this.config.batchSize;
    const indices = this.order.slice(start, start + this.config.batchSize);
    const batch = { epoch: this.epoch, batchIndex: this.batchIndex, indices };
    this.batchIndex += 1;
    return batch;
  }

  /** Batches without end; stop by steps or by `epoch`. */
  *[Symbol.iterator](): Iterator<IndexBatch> {
    for (;;) yield this.next();
  }

  /** The position after the last batch handed out. */
  getState(): BatchIteratorState {
    return Object.freeze({
      ...this.config,
      epoch: this.epoch,
      batchIndex: this.batchIndex,
      epochRngState: this.epochRngState,
    });
  }

  private drawOrder(): number[] {
    const { datasetLength, shuffle } = this.config;
    return shuffle
      ? shuffleIndices(datasetLength, this.rng)
      : Array.from({ length: datasetLength }, (_, index) => index);
  }

  private checkResumable(state: BatchIteratorState): void {
    const problems: string[] = [];
    for (const key of ['datasetLength', 'batchSize', 'shuffle', 'seed', 'dropLast'] as const) {
      if (state[key] !== this.config[key]) {
        problems.push(`${key} is ${String(this.config[key])} but the saved state has ${String(state[key])}`);
      }
    }
    if (!Number.isSafeInteger(state.epoch) || state.epoch < 0)
      problems.push(`epoch ${String(state.epoch)} is not valid`);
    if (!Number.isSafeInteger(state.batchIndex) || state.batchIndex < 0 || state.batchIndex > this.batchesPerEpoch) {
      problems.push(`batchIndex ${String(state.batchIndex)} is not in [0, ${this.batchesPerEpoch}]`);
    }
    if (problems.length > 0) {
      throw new CheckpointError(`batchIterator: cannot resume from the saved state: ${problems.join('; ')}`, {
        code: 'DATA_STATE_MISMATCH',
      });
    }
  }
}

/** Batches of indices into a dataset of `datasetLength` records; pass `resumeFrom` to go on from a saved state. */
export function batchIterator(
  datasetLength: number,
  options: BatchIteratorOptions,
  resumeFrom?: BatchIteratorState,
): BatchIterator {
  return new BatchIterator(datasetLength, options, resumeFrom);
}
