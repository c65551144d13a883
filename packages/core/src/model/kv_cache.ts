import type * as tf from '@tensorflow/tfjs';

/**
 * Keys and values of every layer for the tokens seen so far: keys[l], values[l] are [B, Hkv, S, d]. A cache is
 * owned by whoever holds it; `forward` returns a new one and leaves the old one to its owner to dispose.
 */
export interface KVCache {
  readonly length: number;
  readonly keys: readonly tf.Tensor4D[];
  readonly values: readonly tf.Tensor4D[];
}

export function disposeCache(cache: KVCache | null | undefined): void {
  if (cache === null || cache === undefined) return;
  for (const tensor of cache.keys) tensor.dispose();
  for (const tensor of cache.values) tensor.dispose();
}
