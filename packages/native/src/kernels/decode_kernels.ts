// `RlhfjsGpt2DecodeBlock` (the name @rlhfjs/core's gpt2Block looks for on decode steps): one whole GPT-2 block for
// one new token per row in a single native call (decode.cc): layer norm, c_attn, the in-place KV-cache write,
// attention over the preallocated cache, c_proj, the MLP with gelu_new and both residuals. Outputs are the new
// hidden state [B, 1, D] and the two cache buffers themselves (same data ids, as RlhfjsKVCacheWrite returns them).
// Core sends it only plain linear layers, no gradient tape and a preallocated cache.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues, intValues } from './kernel_utils';

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

export const gpt2DecodeStepKernelName = 'RlhfjsGpt2DecodeStep';

/**
 * `RlhfjsGpt2DecodeStep`: a whole GPT-2 decode step (tied LM head) in one native call. Inputs ids and positions
 * int32 [B, 1], wte [V, D], wpe [P, D], bias [B, 1, 1, C], finalWeight/finalBias [D] and per layer l
 * `layer<l>.<weight>` (gpt2DecodeBlockWeightNames), `layer<l>.keyCache`, `layer<l>.valueCache` [B, H, C, d]; attrs
 * layers, position, epsilon. Outputs: hidden states [B, 1, D] (after the final norm), logits [B, 1, V], then each
 * layer's key and value cache buffers (same data ids, written in place).
 */
function gpt2DecodeStep({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: NativeBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo[] {
  const layers = attrs['layers'] as number;
  const position = attrs['position'] as number;
  const epsilon = attrs['epsilon'] as number;
  const { ids, positions, wte, wpe, bias } = inputs;
  const float = (name: string): Float32Array => {
    const values = floatValues(backend, inputs[name]);
    if (values === null) throw new Error(`${gpt2DecodeStepKernelName}: input ${name} must be a float32 tensor`);
    return values;
  };
  const int = (name: string): Int32Array => {
    const values = intValues(backend, inputs[name]);
    if (values === null) throw new Error(`${gpt2DecodeStepKernelName}: input ${name} must be an int32 tensor`);
    return values;
  };
  if (ids === undefined || positions === undefined || wte === undefined || wpe === undefined || bias === undefined || !(Number.isInteger(layers) && layers >= 1)) {
    throw new Error(`${gpt2DecodeStepKernelName}: needs ids, positions, wte, wpe, bias and a positive layers attribute`);
  }
  const keyCache = inputs['layer0.keyCache'];
  if (keyCache === undefined) throw new Error(`${gpt2DecodeStepKernelName}: missing layer0.keyCache`);
  const [batch, heads, capacity, dim] = keyCache.shape as [number, number, number, number];
  const [vocab, hidden] = wte.shape as [number, number];
  const inner = (inputs['layer0.fcBias']?.shape[0] ?? 0) as number;
  if (ids.shape.join() !== [batch, 1].join() || positions.shape.join() !== [batch, 1].join() || heads * dim !== hidden ||
    bias.shape.join() !== [batch, 1, 1, capacity].join()) {
    throw new Error(`${gpt2DecodeStepKernelName}: shapes do not fit: ids [${ids.shape}], positions [${positions.shape}], wte [${wte.shape}], cache [${keyCache.shape}], bias [${bias.shape}]`);
  }
  const weights: Float32Array[] = [];
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  const caches: tf.TensorInfo[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (const name of gpt2DecodeBlockWeightNames) weights.push(float(`layer${layer}.${name}`));
    keys.push(float(`layer${layer}.keyCache`));
    values.push(float(`layer${layer}.valueCache`));
    caches.push(inputs[`layer${layer}.keyCache`] as tf.TensorInfo, inputs[`layer${layer}.valueCache`] as tf.TensorInfo);
  }
  const hiddenOut = backend.allocate(batch * hidden);
  const logitsOut = backend.allocate(batch * vocab);
  // the native side checks every length, the ids against V and the positions against P (RangeError otherwise)
  backend.addon.gpt2DecodeStep(int('ids'), int('positions'), float('wte'), float('wpe'), weights, keys, values, float('bias'), float('finalWeight'), float('finalBias'),
    hiddenOut, logitsOut, batch, hidden, inner, heads, capacity, position, vocab, wpe.shape[0] as number, epsilon);
  const outputs: tf.TensorInfo[] = [backend.makeOwnedTensorInfo([batch, 1, hidden], hiddenOut), backend.makeOwnedTensorInfo([batch, 1, vocab], logitsOut)];
  for (const cache of caches) {
    backend.incRef(cache.dataId);
    outputs.push({ dataId: cache.dataId, shape: [...cache.shape], dtype: 'float32' });
  }
  return outputs;
}

/** Registers the fused decode kernels for `backendName`. */
export function registerDecodeKernels(backendName: string): void {
  if (tf.getKernel(gpt2DecodeBlockKernelName, backendName) !== undefined) return;
  tf.registerKernel({ kernelName: gpt2DecodeBlockKernelName, backendName, kernelFunc: gpt2DecodeBlock as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: gpt2DecodeStepKernelName, backendName, kernelFunc: gpt2DecodeStep as unknown as tf.KernelFunc });
}
