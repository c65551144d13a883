import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, DistError, type GradientReducer } from '@rlhfjs/core';
import type { ProcessGroup } from '../group/process_group';

export interface DistributedReducerOptions {
  /** Bytes per gradient bucket (default 25 MiB, DDP's default); one tensor larger than this gets its own bucket. */
  readonly bucketBytes?: number;
}

export interface DistributedReducerConfig {
  readonly bucketBytes: number;
}

export function resolveDistributedReducerConfig(options: DistributedReducerOptions = {}): DistributedReducerConfig {
  const bucketBytes = options.bucketBytes ?? 25 * 1024 * 1024;
  const problems: string[] = [];
  if (!Number.isSafeInteger(bucketBytes) || bucketBytes < 4) problems.push(`bucketBytes must be an integer >= 4, got ${bucketBytes}`);
  if (problems.length > 0) throw new ConfigError('DistributedReducer', problems);
  return Object.freeze({ bucketBytes });
}

/** One tensor's place in the flat gradient order. */
interface Slot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly size: number;
}

interface Layout {
  readonly hash: string;
  readonly slots: readonly Slot[];
  /** Buckets of consecutive slots, each with its reusable buffer. */
  readonly buckets: ReadonlyArray<{ readonly slots: readonly Slot[]; readonly buffer: Float32Array }>;
}

function describe(slot: Slot): string {
  return `${slot.name} ${slot.dtype}[${slot.shape.join(',')}]`;
}

/**
 * DDP-style gradient averaging over a `ProcessGroup`: gradients are packed in a fixed order into reusable
 * float32 buckets (~25 MiB), each bucket is averaged across ranks with one all-reduce, and the result comes
 * back as new tensors. The order (names, shapes, dtypes) is hashed and checked across ranks at the first call
 * and whenever it changes; a mismatch is a `DistError('DESYNC')` naming the first differing parameter.
 */
export class DistributedReducer implements GradientReducer {
  readonly rank: number;
  readonly worldSize: number;
  private readonly config: DistributedReducerConfig;
  private layout: Layout | undefined;

  constructor(private readonly group: ProcessGroup, options: DistributedReducerOptions = {}) {
    this.config = resolveDistributedReducerConfig(options);
    this.rank = group.rank;
    this.worldSize = group.worldSize;
  }

  async allReduceGradients(gradients: tf.NamedTensorMap): Promise<tf.NamedTensorMap> {
    const layout = await this.verifiedLayout(
      Object.entries(gradients).map(([name, tensor]) => ({ name, shape: [...tensor.shape], dtype: tensor.dtype, size: tensor.size })),
      'allReduceGradients',
    );
    const result: tf.NamedTensorMap = {};
    try {
      for (const bucket of layout.buckets) {
        let offset = 0;
        for (const slot of bucket.slots) {
          bucket.buffer.set((await (gradients[slot.name] as tf.Tensor).data()) as Float32Array, offset);
          offset += slot.size;
        }
        await this.group.allReduce(bucket.buffer.subarray(0, offset), 'mean');
        offset = 0;
        for (const slot of bucket.slots) {
          // slice, not subarray: the cpu backend may keep the array it is given, and the bucket is reused.
          result[slot.name] = tf.tensor(bucket.buffer.slice(offset, offset + slot.size), [...slot.shape], 'float32');
          offset += slot.size;
        }
      }
    } catch (error) {
      tf.dispose(result);
      throw error;
    }
    return result;
  }

  /** Sum plain numbers across ranks, in float64 (exact for integers below 2^53). */
  async allReduceSum(values: readonly number[]): Promise<number[]> {
    const buffer = Float64Array.from(values);
    await this.group.allReduce(buffer, 'sum');
    return Array.from(buffer);
  }

  /** Overwrite every rank's parameters with rank `root`'s, so that all ranks start from the same weights. */
  async broadcastParameters(parameters: ReadonlyMap<string, tf.Variable>, root = 0): Promise<void> {
    const slots = [...parameters].map(([name, variable]) => ({ name, shape: [...variable.shape], dtype: variable.dtype, size: variable.size }));
    const unsupported = slots.filter((slot) => slot.dtype !== 'float32');
    if (unsupported.length > 0) {
      throw new ConfigError('broadcastParameters', unsupported.map((slot) => `${describe(slot)}: only float32 parameters are supported`));
    }
    const layout = await this.verifiedLayout(slots, 'broadcastParameters', false);
    for (const bucket of layout.buckets) {
      let offset = 0;
      if (this.rank === root) {
        for (const slot of bucket.slots) {
          bucket.buffer.set((await (parameters.get(slot.name) as tf.Variable).data()) as Float32Array, offset);
          offset += slot.size;
        }
      } else {
        offset = bucket.slots.reduce((total, slot) => total + slot.size, 0);
      }
      await this.group.broadcast(bucket.buffer.subarray(0, offset), root);
      if (this.rank === root) continue;
      offset = 0;
      for (const slot of bucket.slots) {
        const value = tf.tensor(bucket.buffer.slice(offset, offset + slot.size), [...slot.shape], 'float32');
        (parameters.get(slot.name) as tf.Variable).assign(value);
        value.dispose();
        offset += slot.size;
      }
    }
  }

  private buildLayout(slots: readonly Slot[]): Layout {
    const hash = createHash('sha256').update(slots.map(describe).join('\n')).digest('hex');
    const buckets: Array<{ slots: Slot[]; buffer: Float32Array }> = [];
    const capacity = Math.floor(this.config.bucketBytes / 4);
    let current: Slot[] = [];
    let elements = 0;
    const close = (): void => {
      if (current.length > 0) buckets.push({ slots: current, buffer: this.group.allocate(Math.max(elements, 1)) });
      current = [];
      elements = 0;
    };
    for (const slot of slots) {
      if (elements > 0 && elements + slot.size > capacity) close();
      current.push(slot);
      elements += slot.size;
    }
    close();
    return { hash, slots, buckets };
  }

  /** The layout for these slots, checked identical on every rank (cached while the order stays the same). */
  private async verifiedLayout(slots: readonly Slot[], where: string, cache = true): Promise<Layout> {
    const unsupported = slots.filter((slot) => slot.dtype !== 'float32');
    if (unsupported.length > 0) throw new ConfigError(where, unsupported.map((slot) => `${describe(slot)}: gradients must be float32`));
    const candidate = this.buildLayout(slots);
    if (cache && this.layout?.hash === candidate.hash) return this.layout;
    const hashes = await this.group.allGatherObject(candidate.hash);
    if (hashes.some((hash) => hash !== candidate.hash)) {
      const all = await this.group.allGatherObject(slots.map(describe));
      const mine = slots.map(describe);
      for (let rank = 0; rank < all.length; rank += 1) {
        const theirs = all[rank] as string[];
        const index = Array.from({ length: Math.max(theirs.length, mine.length) }, (_, i) => i).find((i) => theirs[i] !== mine[i]);
        if (index === undefined) continue;
        throw new DistError(
          'DESYNC',
          `${where}: rank ${this.rank} and rank ${rank} differ at parameter #${index}: ` +
            `"${mine[index] ?? '(none)'}" here, "${theirs[index] ?? '(none)'}" there`,
          { peer: rank },
        );
      }
    }
    if (cache) this.layout = candidate;
    return candidate;
  }
}
