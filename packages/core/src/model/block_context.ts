import type * as tf from '@tensorflow/tfjs';
import type { LinearLayer } from './linear';
import type { ModelConfig } from './model_config';

/** What a transformer block reads from its model: named linear layers and other named parameters. */
export interface ParameterSource {
  readonly config: ModelConfig;
  linear(name: string): LinearLayer;
  tensor(name: string): tf.Variable;
}

/** Per-forward inputs shared by every block. */
export interface BlockContext {
  /** [B, 1, T, S] additive attention bias. */
  readonly bias: tf.Tensor4D;
  /** Rotary tables [B, 1, T, d] (Llama family only). */
  readonly rope: { readonly cos: tf.Tensor4D; readonly sin: tf.Tensor4D } | null;
  /** Cached keys/values of this layer, [B, Hkv, C, d] (C = P for a growing cache), or null. */
  readonly pastKey: tf.Tensor4D | null;
  readonly pastValue: tf.Tensor4D | null;
  /** P, the filled positions of pastKey/pastValue when they are preallocated buffers (default: all C of them). */
  readonly pastLength?: number;
  /** Whether the caller keeps this forward's keys/values (it builds a KV cache); default false. */
  readonly keepKeyValues?: boolean;
}

export interface BlockOutput {
  readonly hidden: tf.Tensor3D; // [B, T, D]
  readonly key: tf.Tensor4D; // [B, Hkv, P + T, d], or [B, Hkv, C, d] with a preallocated cache
  readonly value: tf.Tensor4D; // [B, Hkv, P + T, d], or [B, Hkv, C, d]
}
