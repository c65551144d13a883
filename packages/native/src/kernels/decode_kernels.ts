// `RlhfjsGpt2DecodeBlock` (the name @rlhfjs/core's gpt2Block looks for on decode steps): one whole GPT-2 block for
// one new token per row in a single native call (decode.cc): layer norm, c_attn, the in-place KV-cache write,
// attention over the preallocated cache, c_proj, the MLP with gelu_new and both residuals. Outputs are the new
// hidden state [B, 1, D] and the two cache buffers themselves (same data ids, as RlhfjsKVCacheWrite returns them).
// Core sends it only plain linear layers, no gradient tape and a preallocated cache.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues } from './kernel_utils';

export const gpt2DecodeBlockKernelName = 'RlhfjsGpt2DecodeBlock';

/** Input names in the order decode.cc takes the weights (every linear weight [in, out]). */
export const gpt2DecodeBlockWeightNames = [
  'ln1Weight', 'ln1Bias', 'qkvWeight', 'qkvBias', 'projWeight', 'projBias',
  'ln2Weight', 'ln2Bias', 'fcWeight', 'fcBias', 'outWeight', 'outBias',
] as const;

function gpt2DecodeBlock({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: NativeBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo[] {
  const { x, keyCache, valueCache, bias } = inputs;
  const xValues = floatValues(backend, x);
  const keyValues = floatValues(backend, keyCache);
  const valueValues = floatValues(backend, valueCache);
  const biasValues = floatValues(backend, bias);
  const weights = gpt2DecodeBlockWeightNames.map((name) => floatValues(backend, inputs[name]));
  if (x === undefined || keyCache === undefined || valueCache === undefined || bias === undefined || xValues === null || keyValues === null ||
    valueValues === null || biasValues === null || weights.some((w) => w === null)) {
    throw new Error(`${gpt2DecodeBlockKernelName}: x, keyCache, valueCache, bias and all 12 weights must be float32 tensors`);
  }
  const [batch, length, hidden] = x.shape as [number, number, number];
  const [cacheBatch, heads, capacity, dim] = keyCache.shape as [number, number, number, number];
  const inner = (inputs['fcBias']?.shape[0] ?? 0) as number;
  const position = attrs['position'] as number;
  const epsilon = attrs['epsilon'] as number;
  if (length !== 1 || cacheBatch !== batch || heads * dim !== hidden || valueCache.shape.join() !== keyCache.shape.join() ||
    bias.shape.join() !== [batch, 1, 1, capacity].join() || !(Number.isInteger(position) && position >= 0 && position < capacity)) {
    throw new Error(`${gpt2DecodeBlockKernelName}: shapes do not fit: x [${x.shape}] (need [B, 1, D]), cache [${keyCache.shape}] / [${valueCache.shape}], ` +
      `bias [${bias.shape}], position ${position}`);
  }
  const out = backend.allocate(batch * hidden);
  // the native side checks every weight's length against (hidden, inner) and throws a RangeError on a mismatch
  backend.addon.gpt2DecodeBlock(xValues, weights as Float32Array[], keyValues, valueValues, biasValues, out, batch, hidden, inner, heads, capacity, position, epsilon);
  backend.incRef(keyCache.dataId);
  backend.incRef(valueCache.dataId);
  return [
    backend.makeOwnedTensorInfo([batch, 1, hidden], out),
    { dataId: keyCache.dataId, shape: [...keyCache.shape], dtype: 'float32' },
    { dataId: valueCache.dataId, shape: [...valueCache.shape], dtype: 'float32' },
  ];
}

/** Registers the fused decode kernels for `backendName`. */
export function registerDecodeKernels(backendName: string): void {
  if (tf.getKernel(gpt2DecodeBlockKernelName, backendName) !== undefined) return;
  tf.registerKernel({ kernelName: gpt2DecodeBlockKernelName, backendName, kernelFunc: gpt2DecodeBlock as unknown as tf.KernelFunc });
}
