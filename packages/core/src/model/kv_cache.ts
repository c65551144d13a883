import * as tf from '@tensorflow/tfjs';
import { hasKernel } from '../backend/capabilities';
import { ShapeError } from '../errors/errors';
import { tidyObject } from '../ops/tidy_object';
import type { ModelConfig } from './model_config';

/**
 * Keys and values of every layer for the tokens seen so far: keys[l], values[l] are [B, Hkv, C, d] where the first
 * `length` positions are filled. A growing cache has C = length (each forward returns copies one token longer); a
 * preallocated cache (`createKVCache`) has C = `capacity` fixed up front and each forward writes its new keys and
 * values in place at [length, length + T), so decoding copies nothing per token. A cache is owned by whoever holds
 * it; `forward` returns a new one (sharing the buffers of a preallocated one) and leaves the old one to its owner.
 */
export interface KVCache {
  readonly length: number;
  readonly keys: readonly tf.Tensor4D[];
  readonly values: readonly tf.Tensor4D[];
  /** Positions allocated in every buffer when preallocated (absent: a growing cache, C = length). */
  readonly capacity?: number;
}

/**
 * Name of the kernel that writes `update` [B, H, T, d] into `cache` [B, H, C, d] at position `position` IN PLACE and
 * returns the cache buffer itself (like Reshape, sharing its data). Backends register it where their storage allows
 * (`@rlhfjs/native`); elsewhere `writeKeyValue` builds a new buffer with tfjs ops.
 */
export const KV_CACHE_WRITE_KERNEL = 'RlhfjsKVCacheWrite';

export function disposeCache(cache: KVCache | null | undefined): void {
  if (cache === null || cache === undefined) return;
  for (const tensor of cache.keys) tensor.dispose();
  for (const tensor of cache.values) tensor.dispose();
}

/** An empty cache with room for `capacity` positions of `batch` rows in every layer: zeros [B, Hkv, C, d]. */
export function createKVCache(config: ModelConfig, batch: number, capacity: number): KVCache {
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(capacity) || capacity < 1) {
    throw new ShapeError(`createKVCache: batch and capacity must be positive integers, got batch ${batch}, capacity ${capacity}`);
  }
  const shape: [number, number, number, number] = [batch, config.numKeyValueHeads, capacity, config.headDim]; // [B, Hkv, C, d]
  const keys: tf.Tensor4D[] = [];
  const values: tf.Tensor4D[] = [];
  for (let layer = 0; layer < config.numLayers; layer++) {
    keys.push(tf.zeros(shape));
    values.push(tf.zeros(shape));
  }
  return { length: 0, keys, values, capacity };
}

/**
 * `buffer` [B, H, C, d] with positions [position, position + T) replaced by `update` [B, H, T, d]. In place through
 * the backend's KV_CACHE_WRITE_KERNEL when it has one (the result then shares `buffer`'s data: positions below
 * `position` are unchanged, so an older cache object of the same buffers stays valid for its own length), else a
 * new tensor assembled from slices.
 */
export function writeKeyValue(buffer: tf.Tensor4D, update: tf.Tensor4D, position: number): tf.Tensor4D {
  const [batch, heads, capacity, dim] = buffer.shape;
  const length = update.shape[2];
  if (update.shape[0] !== batch || update.shape[1] !== heads || update.shape[3] !== dim || position < 0 || position + length > capacity) {
    throw new ShapeError(
      `writeKeyValue: cannot write update [${update.shape}] at position ${position} of a cache buffer [${buffer.shape}] (capacity ${capacity})`,
    );
  }
  if (hasKernel(KV_CACHE_WRITE_KERNEL) && buffer.dtype === 'float32' && update.dtype === 'float32') {
    return tf.engine().runKernel(KV_CACHE_WRITE_KERNEL, { cache: buffer, update }, { position }) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const parts: tf.Tensor4D[] = [];
    if (position > 0) parts.push(tf.slice(buffer, [0, 0, 0, 0], [batch, heads, position, dim])); // [B, H, position, d]
    parts.push(update);
    const rest = capacity - position - length;
    if (rest > 0) parts.push(tf.slice(buffer, [0, 0, position + length, 0], [batch, heads, rest, dim])); // [B, H, rest, d]
    return parts.length === 1 ? tf.clone(update) : (tf.concat(parts, 2) as tf.Tensor4D); // [B, H, C, d]
  });
}

/**
 * The keys (or values) a block attends over after adding this step's: the new ones alone without a cache, the
 * past ones concatenated with them for a growing cache ([B, H, P + T, d]), or the preallocated buffer with them
 * written at `pastLength` ([B, H, C, d]; positions past P + T are masked by the attention bias).
 */
export function appendKeyValue(past: tf.Tensor4D | null, fresh: tf.Tensor4D, pastLength: number | undefined): tf.Tensor4D {
  if (past === null) return fresh;
  const filled = pastLength ?? past.shape[2];
  if (filled === past.shape[2]) return tf.concat([past, fresh], 2) as tf.Tensor4D; // [B, H, P + T, d]
  return writeKeyValue(past, fresh, filled); // [B, H, C, d]
}

/** The cache restricted to the given batch rows (finished rows dropped): one gather per buffer. */
export function selectCacheRows(cache: KVCache, rows: readonly number[]): KVCache {
  const batch = cache.keys[0]?.shape[0] ?? 0;
  if (rows.length === 0 || rows.some((row) => !Number.isInteger(row) || row < 0 || row >= batch)) {
    throw new ShapeError(`selectCacheRows: rows [${rows.join(', ')}] are not a non-empty list of rows of a cache of batch ${batch}`);
  }
  const picked = tidyObject(() => {
    const indices = tf.tensor1d([...rows], 'int32');
    const pick = (tensor: tf.Tensor4D): tf.Tensor4D => tf.gather(tensor, indices, 0); // [B', H, C, d]
    return { keys: cache.keys.map(pick), values: cache.values.map(pick) };
  });
  return { length: cache.length, keys: picked.keys, values: picked.values, ...(cache.capacity === undefined ? {} : { capacity: cache.capacity }) };
}
