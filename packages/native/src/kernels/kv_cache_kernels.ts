// Decoding kernels with no cpu counterpart. `RlhfjsKVCacheWrite` (the name @rlhfjs/core's writeKeyValue looks for)
// writes update [B, H, T, d] into the preallocated cache buffer [B, H, C, d] at position p IN PLACE and returns
// the buffer itself, sharing its data id as Reshape does: a decode step copies B·H·T·d floats, not the cache.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues } from './kernel_utils';

export const kvCacheWriteKernelName = 'RlhfjsKVCacheWrite';

function kvCacheWrite({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: NativeBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { cache, update } = inputs;
  const position = attrs['position'] as number;
  const cacheValues = floatValues(backend, cache);
  const updateValues = floatValues(backend, update);
  if (cache === undefined || update === undefined || cacheValues === null || updateValues === null) {
    throw new Error(`${kvCacheWriteKernelName}: cache and update must be float32 tensors`);
  }
  const [batch, heads, capacity, dim] = cache.shape as [number, number, number, number];
  const length = update.shape[2] as number;
  if (update.shape.length !== 4 || update.shape[0] !== batch || update.shape[1] !== heads || update.shape[3] !== dim || !(position >= 0) || position + length > capacity) {
    throw new Error(`${kvCacheWriteKernelName}: update [${update.shape}] does not fit cache [${cache.shape}] at position ${position}`);
  }
  const rowFloats = length * dim;
  for (let row = 0; row < batch * heads; row++) {
    // [T, d] block of (b, h) → positions [p, p + T) of that row's [C, d] block
    cacheValues.set(updateValues.subarray(row * rowFloats, (row + 1) * rowFloats), (row * capacity + position) * dim);
  }
  backend.incRef(cache.dataId);
  return { dataId: cache.dataId, shape: [...cache.shape], dtype: 'float32' };
}

/** Registers the decoding kernels for `backendName` (kernels the cpu backend does not have). */
export function registerKVCacheKernels(backendName: string): void {
  if (tf.getKernel(kvCacheWriteKernelName, backendName) !== undefined) return;
  tf.registerKernel({ kernelName: kvCacheWriteKernelName, backendName, kernelFunc: kvCacheWrite as unknown as tf.KernelFunc });
}
