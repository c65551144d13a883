import * as tf from '@tensorflow/tfjs';

/**
 * `tf.tidy` for functions that return plain objects holding tensors (and nulls): every tensor reachable from the
 * result is kept, everything else created inside is disposed.
 */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}
