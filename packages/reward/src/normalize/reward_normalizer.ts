import { promises as fs } from 'fs';
import { CheckpointError, ConfigError, writeFileAtomic } from '@rlhfjs/core';

/** The file `saveRewardModel` writes next to the weights when the model carries a normalizer. */
export const REWARD_NORMALIZER_FILE = 'reward_normalizer.json';

const FORMAT = 'rlhfjs-reward-normalizer';

export interface RewardNormalizerState {
  readonly count: number;
  readonly mean: number;
  /** Sum of squared deviations from the mean (Welford's M2). */
  readonly m2: number;
  readonly epsilon: number;
}

export interface RewardNormalizerOptions {
  /** Added to the standard deviation before dividing (default 1e-8). */
  epsilon?: number;
}

/**
 * Running mean and standard deviation of rewards (Welford's online algorithm; batches are merged with Chan et al.'s
 * parallel update, so `fit(a); update(b)` equals `fit(a ∪ b)` and two normalizers combine exactly). The standard
 * deviation is the population one (divide by n). `normalize(x) = (x − mean) / (std + epsilon)`.
 */
export class RewardNormalizer {
  private countValue = 0;
  private meanValue = 0;
  private m2Value = 0;
  readonly epsilon: number;

  constructor(options: RewardNormalizerOptions = {}) {
    const epsilon = options.epsilon ?? 1e-8;
    if (!(Number.isFinite(epsilon) && epsilon >= 0)) throw new ConfigError('RewardNormalizer', [`epsilon must be a finite number >= 0, got ${epsilon}`]);
    this.epsilon = epsilon;
  }

  static fromState(state: RewardNormalizerState): RewardNormalizer {
    const problems: string[] = [];
    if (!(Number.isSafeInteger(state.count) && state.count >= 0)) problems.push(`count must be an integer >= 0, got ${state.count}`);
    if (!Number.isFinite(state.mean)) problems.push(`mean must be finite, got ${state.mean}`);
    if (!(Number.isFinite(state.m2) && state.m2 >= 0)) problems.push(`m2 must be a finite number >= 0, got ${state.m2}`);
    if (problems.length > 0) throw new ConfigError('RewardNormalizer.fromState', problems);
    const normalizer = new RewardNormalizer({ epsilon: state.epsilon });
    normalizer.countValue = state.count;
    normalizer.meanValue = state.mean;
    normalizer.m2Value = state.m2;
    return normalizer;
  }

  get count(): number {
    return this.countValue;
  }

  get mean(): number {
    return this.meanValue;
  }

  /** Population variance (0 before any value). */
  get variance(): number {
    return this.countValue === 0 ? 0 : this.m2Value / this.countValue;
  }

  get std(): number {
    return Math.sqrt(this.variance);
  }

  state(): RewardNormalizerState {
    return { count: this.countValue, mean: this.meanValue, m2: this.m2Value, epsilon: this.epsilon };
  }

  /** Adds a batch of values to the running statistics. Non-finite values are refused. */
  update(values: ArrayLike<number>): this {
    let count = 0;
    let mean = 0;
    let m2 = 0;
    for (let index = 0; index < values.length; index++) {
      const value = values[index] as number;
      if (!Number.isFinite(value)) throw new ConfigError('RewardNormalizer.update', [`values[${index}] is ${value}; rewards must be finite`]);
      count += 1;
      const delta = value - mean;
      mean += delta / count;
      m2 += delta * (value - mean);
    }
    this.merge({ count, mean, m2 });
    return this;
  }

  /** Resets and fits on a sample. */
  fit(values: ArrayLike<number>): this {
    this.countValue = 0;
    this.meanValue = 0;
    this.m2Value = 0;
    return this.update(values);
  }

  /** Folds another normalizer's statistics into this one (e.g. from another rank). */
  combine(other: RewardNormalizer): this {
    this.merge(other.state());
    return this;
  }

  normalize(values: ArrayLike<number>): Float32Array {
    if (this.countValue === 0) throw new ConfigError('RewardNormalizer.normalize', ['the normalizer has seen no values; call fit or update first']);
    const out = new Float32Array(values.length);
    const scale = this.std + this.epsilon;
    for (let index = 0; index < values.length; index++) out[index] = ((values[index] as number) - this.meanValue) / scale;
    return out;
  }

  toJSON(): Record<string, unknown> {
    return { format: FORMAT, version: 1, ...this.state() };
  }

  async save(file: string): Promise<void> {
    await writeFileAtomic(file, `${JSON.stringify(this.toJSON(), null, 2)}\n`);
  }

  static async load(file: string): Promise<RewardNormalizer> {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new CheckpointError(`RewardNormalizer.load: cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
    if (json === null || typeof json !== 'object' || json['format'] !== FORMAT || json['version'] !== 1) {
      throw new CheckpointError(`RewardNormalizer.load: ${file} is not a ${FORMAT} file (version 1)`);
    }
    try {
      return RewardNormalizer.fromState({
        count: json['count'] as number,
        mean: json['mean'] as number,
        m2: json['m2'] as number,
        epsilon: json['epsilon'] as number,
      });
    } catch (error) {
      throw new CheckpointError(`RewardNormalizer.load: ${file} is invalid: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Chan, Golub & LeVeque's pairwise update of (count, mean, M2). */
  private merge(other: RewardNormalizerState | { count: number; mean: number; m2: number }): void {
    if (other.count === 0) return;
    const total = this.countValue + other.count;
    const delta = other.mean - this.meanValue;
    this.meanValue += (delta * other.count) / total;
    this.m2Value += other.m2 + (delta * delta * this.countValue * other.count) / total;
    this.countValue = total;
  }
}
