import type * as tf from '@tensorflow/tfjs';

/**
 * What `trainStep` needs from data parallelism. A single process uses `IdentityReducer`; `@rlhfjs/dist` supplies
 * one that averages gradients across ranks over TCP. Implementations must not keep references to the tensors
 * they are given: `allReduceGradients` returns new tensors (or the same ones, unchanged, for the identity) and
 * the caller disposes whatever it passed in that was not returned.
 */
export interface GradientReducer {
  readonly rank: number;
  readonly worldSize: number;
  /** Average each gradient across ranks. Returns a map with the same keys, shapes and order. */
  allReduceGradients(gradients: tf.NamedTensorMap): Promise<tf.NamedTensorMap>;
  /** Sum plain numbers across ranks (token counts, loss sums, metric sums). */
  allReduceSum(values: readonly number[]): Promise<number[]>;
}

/** The reducer of a single process: every collective is the identity. */
export class IdentityReducer implements GradientReducer {
  readonly rank = 0;
  readonly worldSize = 1;

  async allReduceGradients(gradients: tf.NamedTensorMap): Promise<tf.NamedTensorMap> {
    return gradients;
  }

  async allReduceSum(values: readonly number[]): Promise<number[]> {
    return [...values];
  }
}
