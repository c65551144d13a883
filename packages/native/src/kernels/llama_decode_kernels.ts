// `RlhfjsLlamaDecodeStep` (the name @rlhfjs/core's decode step looks for on Llama-family models): a whole decode
// step for one new token per row in one native call (llama_decode.cc): embedding, every layer (RMSNorm, q/k/v with
// optional biases, Qwen3's per-head q/k RMSNorm, rotary from the caller's tables, the in-place KV-cache write,
// grouped-query attention over the preallocated cache, o_proj, SiLU·mul MLP, residuals), the final RMSNorm and the
// tied or untied LM head. Core sends it only plain linear layers, no gradient tape and a preallocated cache.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues, intValues } from './kernel_utils';

export const llamaDecodeStepKernelName = 'RlhfjsLlamaDecodeStep';

/**
 * Per-layer inputs `layer<l>.<name>` in the order llama_decode.cc takes them (linear weights [in, out]). Those in
 * llamaDecodeOptionalWeights may be left out (no bias, no q/k norm).
 */
export const llamaDecodeLayerWeightNames = [
  'inputNorm', 'qWeight', 'qBias', 'kWeight', 'kBias', 'vWeight', 'vBias', 'oWeight', 'oBias', 'qNorm', 'kNorm',
  'postNorm', 'gateWeight', 'gateBias', 'upWeight', 'upBias', 'downWeight', 'downBias',
] as const;

export const llamaDecodeOptionalWeights: ReadonlySet<string> = new Set(['qBias', 'kBias', 'vBias', 'oBias', 'qNorm', 'kNorm', 'gateBias', 'upBias', 'downBias']);

/**
 * Inputs: ids int32 [B, 1], embed [V, D], bias [B, 1, 1, C], cos and sin [B, 1, 1, d] (the step's rotary tables),
 * finalNorm [D], optional lmHead [D, V] (absent: tied to embed), and per layer l the llamaDecodeLayerWeightNames
 * plus `layer<l>.keyCache` / `layer<l>.valueCache` [B, Hkv, C, d]; attrs layers, heads, inner, position, epsilon.
 * Outputs: hidden states [B, 1, D] (after the final norm), logits [B, 1, V], then each layer's key and value cache
 * buffers (same data ids, written in place).
 */
function llamaDecodeStep({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: NativeBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo[] {
  const layers = attrs['layers'] as number;
  const heads = attrs['heads'] as number;
  const inner = attrs['inner'] as number;
  const position = attrs['position'] as number;
  const epsilon = attrs['epsilon'] as number;
  const float = (name: string): Float32Array => {
    const values = floatValues(backend, inputs[name]);
    if (values === null) throw new Error(`${llamaDecodeStepKernelName}: input ${name} must be a float32 tensor`);
    return values;
  };
  const { ids, embed, bias, cos } = inputs;
  if (ids === undefined || embed === undefined || bias === undefined || cos === undefined || !(Number.isInteger(layers) && layers >= 1) ||
    !(Number.isInteger(heads) && heads >= 1) || !(Number.isInteger(inner) && inner >= 1)) {
    throw new Error(`${llamaDecodeStepKernelName}: needs ids, embed, bias, cos, sin and positive layers, heads and inner attributes`);
  }
  const keyCache = inputs['layer0.keyCache'];
  if (keyCache === undefined) throw new Error(`${llamaDecodeStepKernelName}: missing layer0.keyCache`);
  const [batch, keyValueHeads, capacity, headDim] = keyCache.shape as [number, number, number, number];
  const [vocab, hidden] = embed.shape as [number, number];
  if (ids.shape.join() !== [batch, 1].join() || bias.shape.join() !== [batch, 1, 1, capacity].join() || cos.shape.join() !== [batch, 1, 1, headDim].join()) {
    throw new Error(`${llamaDecodeStepKernelName}: shapes do not fit: ids [${ids.shape}], cache [${keyCache.shape}], bias [${bias.shape}], cos [${cos.shape}]`);
  }
  const idValues = intValues(backend, ids);
  if (idValues === null) throw new Error(`${llamaDecodeStepKernelName}: ids must be an int32 tensor`);
  const weights: (Float32Array | null)[] = [];
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  const caches: tf.TensorInfo[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (const name of llamaDecodeLayerWeightNames) {
      const input = `layer${layer}.${name}`;
      weights.push(inputs[input] === undefined && llamaDecodeOptionalWeights.has(name) ? null : float(input));
    }
    keys.push(float(`layer${layer}.keyCache`));
    values.push(float(`layer${layer}.valueCache`));
    caches.push(inputs[`layer${layer}.keyCache`] as tf.TensorInfo, inputs[`layer${layer}.valueCache`] as tf.TensorInfo);
  }
  const hiddenOut = backend.allocate(batch * hidden);
  const logitsOut = backend.allocate(batch * vocab);
  // the native side checks every length against the sizes and the ids against V (RangeError otherwise)
  backend.addon.llamaDecodeStep(idValues, float('embed'), weights, keys, values, float('bias'), float('cos'), float('sin'), float('finalNorm'),
    inputs['lmHead'] === undefined ? null : float('lmHead'), hiddenOut, logitsOut, batch, hidden, heads, keyValueHeads, headDim, inner, capacity, position,
    vocab, epsilon);
  const outputs: tf.TensorInfo[] = [backend.makeOwnedTensorInfo([batch, 1, hidden], hiddenOut), backend.makeOwnedTensorInfo([batch, 1, vocab], logitsOut)];
  for (const cache of caches) {
    backend.incRef(cache.dataId);
    outputs.push({ dataId: cache.dataId, shape: [...cache.shape], dtype: 'float32' });
  }
  return outputs;
}

/** Registers the fused Llama-family decode step for `backendName`. */
export function registerLlamaDecodeKernels(backendName: string): void {
  if (tf.getKernel(llamaDecodeStepKernelName, backendName) !== undefined) return;
  tf.registerKernel({ kernelName: llamaDecodeStepKernelName, backendName, kernelFunc: llamaDecodeStep as unknown as tf.KernelFunc });
}
