import * as tf from '@tensorflow/tfjs';
import { hasKernel } from '../backend/capabilities';
import type { ParameterSource } from './block_context';
import { Linear } from './linear';

/**
 * Name of a backend kernel that runs a whole Llama-family decode step (Llama, Mistral, Qwen2, Qwen3) in one call:
 * inputs ids int32 [B, 1], embed [V, D], bias [B, 1, 1, C], cos and sin [B, 1, 1, d] (this step's rotary tables,
 * computed here so every rope type stays exact), finalNorm [D], lmHead [D, V] when untied, and per layer l
 * `layer<l>.<input>` for the LLAMA_DECODE_LAYER_WEIGHTS inputs (optional ones left out when the model has no such
 * bias or norm) plus `layer<l>.keyCache` / `layer<l>.valueCache` [B, Hkv, C, d] (written IN PLACE at `position`);
 * attrs layers, heads, inner, position, epsilon. Outputs: hidden [B, 1, D], logits [B, 1, V], then each layer's
 * key and value buffers. Registered by `@rlhfjs/native`; elsewhere the model runs its layer-by-layer forward.
 */
export const LLAMA_DECODE_STEP_KERNEL = 'RlhfjsLlamaDecodeStep';

/** The kernel's per-layer inputs with the module (linear: weight and bias) or parameter they read, relative to model.layers.<l>. */
const LLAMA_DECODE_LINEARS = [
  ['q', 'self_attn.q_proj'], ['k', 'self_attn.k_proj'], ['v', 'self_attn.v_proj'], ['o', 'self_attn.o_proj'],
  ['gate', 'mlp.gate_proj'], ['up', 'mlp.up_proj'], ['down', 'mlp.down_proj'],
] as const;

/** Whether tfjs is recording a gradient tape now (then every op must stay differentiable). */
function recordingGradients(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/** A plain Linear's [in, out] weight and its bias (null when it has none), else null (LoRA, 4-bit, …). */
function plainLinear(source: ParameterSource, name: string): { weight: tf.Variable; bias: tf.Variable | null } | null {
  const layer = source.linear(name);
  return layer instanceof Linear ? { weight: layer.weight, bias: layer.bias } : null;
}

export interface LlamaDecodeStepInputs {
  readonly inputIds: tf.Tensor2D; // [B, 1]
  readonly bias: tf.Tensor4D; // [B, 1, 1, C]
  readonly cos: tf.Tensor4D; // [B, 1, 1, d]
  readonly sin: tf.Tensor4D; // [B, 1, 1, d]
  readonly cache: { readonly length: number; readonly capacity?: number; readonly keys: readonly tf.Tensor4D[]; readonly values: readonly tf.Tensor4D[] };
}

/**
 * One decode step of a Llama-family model through LLAMA_DECODE_STEP_KERNEL: hidden states, logits and the same
 * cache buffers (this token written in place), or null when the step cannot take it (no kernel, another family, a
 * wrapped linear layer such as LoRA or 4-bit, no room in a preallocated cache, a non-float32 tensor, a gradient
 * tape); the caller then runs the layer-by-layer forward, which computes the same values. Ids must already be
 * checked by the caller.
 */
export function fusedLlamaDecodeStep(
  model: ParameterSource & { readonly blockFunction: unknown },
  inputs: LlamaDecodeStepInputs,
): { hiddenStates: tf.Tensor3D; logits: tf.Tensor3D; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } | null {
  const { config } = model;
  const { cache } = inputs;
  const first = cache.keys[0];
  if (config.family !== 'llama' || config.rope === null || model.blockFunction !== undefined || first === undefined) return null;
  if (inputs.inputIds.shape[1] !== 1 || cache.capacity === undefined || cache.length >= cache.capacity || first.shape[2] !== cache.capacity) return null;
  if (!hasKernel(LLAMA_DECODE_STEP_KERNEL) || recordingGradients()) return null;
  const kernelInputs: tf.NamedTensorMap = {
    ids: inputs.inputIds,
    embed: model.tensor('model.embed_tokens.weight'),
    bias: inputs.bias,
    cos: inputs.cos,
    sin: inputs.sin,
    finalNorm: model.tensor('model.norm.weight'),
  };
  if (!config.tieWordEmbeddings) {
    const head = plainLinear(model, 'lm_head');
    if (head === null || head.bias !== null) return null;
    kernelInputs['lmHead'] = head.weight; // [D, V]
  }
  let inner = 0;
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    const input = (name: string, tensor: tf.Tensor): void => {
      kernelInputs[`layer${layer}.${name}`] = tensor;
    };
    input('inputNorm', model.tensor(`${prefix}.input_layernorm.weight`));
    input('postNorm', model.tensor(`${prefix}.post_attention_layernorm.weight`));
    if (config.queryKeyNorm) {
      input('qNorm', model.tensor(`${prefix}.self_attn.q_norm.weight`));
      input('kNorm', model.tensor(`${prefix}.self_attn.k_norm.weight`));
    }
    for (const [short, module] of LLAMA_DECODE_LINEARS) {
      const linear = plainLinear(model, `${prefix}.${module}`);
      if (linear === null) return null;
      input(`${short}Weight`, linear.weight);
      if (linear.bias !== null) input(`${short}Bias`, linear.bias);
      if (short === 'gate') inner = linear.weight.shape[1] as number;
    }
    const key = cache.keys[layer];
    const value = cache.values[layer];
    if (key === undefined || value === undefined) return null;
    input('keyCache', key);
    input('valueCache', value);
  }
  for (const [name, tensor] of Object.entries(kernelInputs)) {
    if (tensor.dtype !== (name === 'ids' ? 'int32' : 'float32')) return null;
  }
  const outputs = tf.engine().runKernel(LLAMA_DECODE_STEP_KERNEL, kernelInputs, {
    layers: config.numLayers,
    heads: config.numHeads,
    inner,
    position: cache.length,
    epsilon: config.normEpsilon,
  }) as tf.Tensor[];
  const [hiddenStates, logits, ...buffers] = outputs as [tf.Tensor3D, tf.Tensor3D, ...tf.Tensor4D[]]; // [B, 1, D], [B, 1, V], [B, Hkv, C, d]…
  return {
    hiddenStates,
    logits,
    keys: buffers.filter((_, i) => i % 2 === 0),
    values: buffers.filter((_, i) => i % 2 === 1),
  };
}
