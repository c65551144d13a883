// Shared plumbing of the native kernels: typed access to the backend's stored values and the native-or-cpu
// dispatch every overridden kernel goes through.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';

export interface NativeKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: NativeBackend;
  attrs: tf.NamedAttrMap;
}

/** Returns the output, or null when these inputs are not handled natively (the cpu kernel then runs). */
export type NativeKernelFunc = (args: NativeKernelArgs) => tf.TensorInfo | null;

export interface NativeKernel {
  readonly kernelName: string;
  readonly run: NativeKernelFunc;
}

/** The float32 values of `tensor`, or null when it is not a plain float32 tensor. */
export function floatValues(backend: NativeBackend, tensor: tf.TensorInfo | undefined): Float32Array | null {
  if (tensor === undefined || tensor.dtype !== 'float32') return null;
  const values = backend.data.get(tensor.dataId).values;
  return values instanceof Float32Array ? values : null;
}

/** The int32 values of `tensor` as an Int32Array, or null when it is not int32. */
export function intValues(backend: NativeBackend, tensor: tf.TensorInfo | undefined): Int32Array | null {
  if (tensor === undefined || tensor.dtype !== 'int32') return null;
  const values = backend.data.get(tensor.dataId).values;
  if (values instanceof Int32Array) return values;
  return values instanceof Float32Array || values instanceof Uint8Array ? Int32Array.from(values) : null;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dimension of shape) size *= dimension;
  return size;
}

/** Row-major element strides of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d] ?? 1;
  }
  return strides;
}

/**
 * Element strides of an input of `shape` read at the indices of a broadcast output of rank `outRank`:
 * dims aligned from the right, 0 on dims the input lacks or has as 1.
 */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): Float64Array {
  const own = stridesOf(shape);
  const result = new Float64Array(outShape.length);
  const offset = outShape.length - shape.length;
  for (let d = 0; d < outShape.length; d++) {
    const inputDim = d - offset;
    result[d] = inputDim < 0 || shape[inputDim] === 1 ? 0 : (own[inputDim] ?? 0);
  }
  return result;
}

/** Runs a native kernel already registered for `native` (falls back to cpu inside when needed). */
export function runNativeKernel(kernelName: string, args: NativeKernelArgs): tf.TensorInfo {
  const config = tf.getKernel(kernelName, 'native');
  if (config === undefined) throw new Error(`@rlhfjs/native: kernel ${kernelName} is not registered for native`);
  return config.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}
