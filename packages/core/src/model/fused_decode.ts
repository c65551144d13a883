import * as tf from '@tensorflow/tfjs';
import { hasKernel } from '../backend/capabilities';
import { ShapeError } from '../errors/errors';
import { attentionBias } from './attention';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import { Linear } from './linear';
import { LLAMA_DECODE_STEP_KERNEL, fusedLlamaDecodeStep } from './llama_fused_decode';
import { positionIdsFromMask } from './position_ids';
import { ropeTables } from './rope';

/**
 * Name of a backend kernel that runs one whole GPT-2 block for a single new token per row (a decode step) in one
 * call: inputs x [B, 1, D], the block's 12 weights (GPT2_DECODE_BLOCK_WEIGHTS, linear weights [in, out]), keyCache
 * and valueCache [B, H, C, d] (preallocated; this token's key/value are written IN PLACE at `position`) and bias
 * [B, 1, 1, C]; attrs position, epsilon. Outputs: hidden [B, 1, D] and the two cache buffers themselves. Registered
 * by `@rlhfjs/native`; elsewhere gpt2Block runs its portable ops.
 */
export const GPT2_DECODE_BLOCK_KERNEL = 'RlhfjsGpt2DecodeBlock';

/** The kernel's weight inputs, in order, with the HF parameter each one reads (module-relative to transformer.h.<l>). */
export const GPT2_DECODE_BLOCK_WEIGHTS = [
  ['ln1Weight', 'ln_1.weight'], ['ln1Bias', 'ln_1.bias'], ['qkvWeight', 'attn.c_attn.weight'], ['qkvBias', 'attn.c_attn.bias'],
  ['projWeight', 'attn.c_proj.weight'], ['projBias', 'attn.c_proj.bias'], ['ln2Weight', 'ln_2.weight'], ['ln2Bias', 'ln_2.bias'],
  ['fcWeight', 'mlp.c_fc.weight'], ['fcBias', 'mlp.c_fc.bias'], ['outWeight', 'mlp.c_proj.weight'], ['outBias', 'mlp.c_proj.bias'],
] as const;

/** Whether tfjs is recording a gradient tape now (then every op must stay differentiable). */
function recordingGradients(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/** The [in, out] weight and bias of a plain Linear (not LoRA, not 4-bit) with a bias, else null. */
function plainLinear(source: ParameterSource, name: string): { weight: tf.Variable; bias: tf.Variable } | null {
  const layer = source.linear(name);
  return layer instanceof Linear && layer.bias !== null ? { weight: layer.weight, bias: layer.bias } : null;
}

/**
 * The GPT-2 block of `layer` for one new token per row through the backend's GPT2_DECODE_BLOCK_KERNEL, or null when
 * this step cannot take it (no such kernel, more than one token, no preallocated cache with room, a wrapped linear
 * layer such as LoRA or 4-bit, a non-float32 tensor, or a gradient tape being recorded); the caller then runs the
 * portable block, which computes the same values.
 */
export function fusedGpt2DecodeBlock(source: ParameterSource, layer: number, x: tf.Tensor3D, context: BlockContext): BlockOutput | null {
  const { pastKey, pastValue, pastLength, bias } = context;
  if (x.shape[1] !== 1 || pastKey === null || pastValue === null || pastLength === undefined || pastLength >= pastKey.shape[2]) return null;
  if (bias.shape[2] !== 1 || bias.shape[3] !== pastKey.shape[2]) return null;
  if (!hasKernel(GPT2_DECODE_BLOCK_KERNEL) || recordingGradients()) return null;
  const prefix = `transformer.h.${layer}`;
  const linears = new Map<string, tf.Variable>();
  for (const module of ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']) {
    const linear = plainLinear(source, `${prefix}.${module}`);
    if (linear === null) return null;
    linears.set(`${module}.weight`, linear.weight).set(`${module}.bias`, linear.bias);
  }
  const inputs: tf.NamedTensorMap = { x, keyCache: pastKey, valueCache: pastValue, bias };
  for (const [input, parameter] of GPT2_DECODE_BLOCK_WEIGHTS) {
    inputs[input] = linears.get(parameter) ?? source.tensor(`${prefix}.${parameter}`);
  }
  if (Object.values(inputs).some((tensor) => tensor.dtype !== 'float32')) return null;
  const [hidden, key, value] = tf.engine().runKernel(GPT2_DECODE_BLOCK_KERNEL, inputs, { position: pastLength, epsilon: source.config.normEpsilon }) as [
    tf.Tensor3D, // [B, 1, D]
    tf.Tensor4D, // [B, H, C, d]
    tf.Tensor4D,
  ];
  return { hidden, key, value };
}

/**
 * Name of a backend kernel that runs a whole GPT-2 decode step with the tied LM head in one call (inputs ids and
 * positions int32 [B, 1], wte, wpe, bias [B, 1, 1, C], finalWeight, finalBias, and per layer l `layer<l>.<input>`
 * for the GPT2_DECODE_BLOCK_WEIGHTS inputs plus `layer<l>.keyCache` / `layer<l>.valueCache`; attrs layers, position,
 * epsilon). Outputs: hidden states [B, 1, D], logits [B, 1, V], then each layer's key and value buffers.
 */
export const GPT2_DECODE_STEP_KERNEL = 'RlhfjsGpt2DecodeStep';

/** What the whole-step path reads of the model (CausalLM satisfies it). */
export interface DecodeStepModel extends ParameterSource {
  readonly blockFunction: unknown;
}

export interface DecodeStepInputs {
  readonly inputIds: tf.Tensor2D; // [B, 1]
  readonly attentionMask: tf.Tensor2D; // [B, P + 1]
  readonly positionIds: tf.Tensor2D; // [B, 1]
  readonly cache: { readonly length: number; readonly capacity?: number; readonly keys: readonly tf.Tensor4D[]; readonly values: readonly tf.Tensor4D[] };
}

/**
 * One decode step of a GPT-2 model with tied embeddings through GPT2_DECODE_STEP_KERNEL: the hidden states, logits
 * and the same cache buffers (this token written in place), or null when the step cannot take it (no kernel, another
 * family, an untied head, a wrapped linear layer, a block function swapped in, no room in a preallocated cache, a
 * gradient tape); the caller then runs the layer-by-layer forward, which computes the same values. `bias` is the
 * [B, 1, 1, C] attention bias of the step. Ids and positions must already be checked by the caller.
 */
export function fusedGpt2DecodeStep(
  model: DecodeStepModel,
  inputs: DecodeStepInputs,
  bias: tf.Tensor4D,
): { hiddenStates: tf.Tensor3D; logits: tf.Tensor3D; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } | null {
  const { config } = model;
  const { cache } = inputs;
  const first = cache.keys[0];
  if (config.family !== 'gpt2' || !config.tieWordEmbeddings || config.rope !== null || model.blockFunction !== undefined || first === undefined) return null;
  if (inputs.inputIds.shape[1] !== 1 || cache.capacity === undefined || cache.length >= cache.capacity || first.shape[2] !== cache.capacity) return null;
  if (!hasKernel(GPT2_DECODE_STEP_KERNEL) || recordingGradients()) return null;
  const kernelInputs: tf.NamedTensorMap = {
    ids: inputs.inputIds,
    positions: inputs.positionIds,
    wte: model.tensor('transformer.wte.weight'),
    wpe: model.tensor('transformer.wpe.weight'),
    bias,
    finalWeight: model.tensor('transformer.ln_f.weight'),
    finalBias: model.tensor('transformer.ln_f.bias'),
  };
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `transformer.h.${layer}`;
    for (const [input, parameter] of GPT2_DECODE_BLOCK_WEIGHTS) {
      const module = parameter.slice(0, parameter.lastIndexOf('.'));
      let tensor: tf.Tensor;
      if (module.startsWith('ln_')) {
        tensor = model.tensor(`${prefix}.${parameter}`);
      } else {
        const linear = plainLinear(model, `${prefix}.${module}`);
        if (linear === null) return null;
        tensor = parameter.endsWith('.weight') ? linear.weight : linear.bias;
      }
      kernelInputs[`layer${layer}.${input}`] = tensor;
    }
    const key = cache.keys[layer];
    const value = cache.values[layer];
    if (key === undefined || value === undefined) return null;
    kernelInputs[`layer${layer}.keyCache`] = key;
    kernelInputs[`layer${layer}.valueCache`] = value;
  }
  for (const [name, tensor] of Object.entries(kernelInputs)) {
    if (tensor.dtype !== (name === 'ids' || name === 'positions' ? 'int32' : 'float32')) return null;
  }
  const outputs = tf.engine().runKernel(GPT2_DECODE_STEP_KERNEL, kernelInputs, {
    layers: config.numLayers,
    position: cache.length,
    epsilon: config.normEpsilon,
  }) as tf.Tensor[];
  const [hiddenStates, logits, ...buffers] = outputs as [tf.Tensor3D, tf.Tensor3D, ...tf.Tensor4D[]]; // [B, 1, D], [B, 1, V], [B, H, C, d]…
  return {
    hiddenStates,
    logits,
    keys: buffers.filter((_, i) => i % 2 === 0),
    values: buffers.filter((_, i) => i % 2 === 1),
  };
}

/**
 * CausalLM.forward's fast path for a one-token step on a preallocated cache: builds the step's mask, positions and
 * bias (and rotary tables for the Llama family) on the host, checks ids and positions as forward does (same
 * ShapeErrors) and runs fusedGpt2DecodeStep or fusedLlamaDecodeStep. Returns null (having allocated nothing that
 * outlives it) when the step cannot take it.
 */
export function decodeStepForward(
  model: DecodeStepModel,
  inputs: { inputIds: tf.Tensor2D; attentionMask?: tf.Tensor2D; positionIds?: tf.Tensor2D; cache?: DecodeStepInputs['cache'] | null },
): { hiddenStates: tf.Tensor3D; logits: tf.Tensor3D; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } | null {
  const { config } = model;
  const cache = inputs.cache;
  const kernel = config.family === 'gpt2' ? GPT2_DECODE_STEP_KERNEL : LLAMA_DECODE_STEP_KERNEL;
  if (cache === null || cache === undefined || cache.capacity === undefined || inputs.inputIds.shape[1] !== 1 || !hasKernel(kernel)) return null;
  if ((config.family === 'gpt2' && !config.tieWordEmbeddings) || model.blockFunction !== undefined || recordingGradients()) return null;
  const [batch] = inputs.inputIds.shape;
  const ids = inputs.inputIds.dataSync();
  let minimum = Infinity;
  let maximum = -Infinity;
  for (const id of ids) {
    minimum = Math.min(minimum, id);
    maximum = Math.max(maximum, id);
  }
  if (minimum < 0 || maximum >= config.vocabSize) {
    throw new ShapeError(
      `CausalLM.forward: inputIds hold ids in [${minimum}, ${maximum}] but the vocabulary has ${config.vocabSize} entries (tokenizer and model do not match?)`,
    );
  }
  const temporaries: tf.Tensor[] = [];
  try {
    const mask = inputs.attentionMask ?? (tf.ones([batch, cache.length + 1], 'int32') as tf.Tensor2D); // [B, P + 1]
    if (inputs.attentionMask === undefined) temporaries.push(mask);
    const positions = inputs.positionIds ?? positionIdsFromMask(mask, 1); // [B, 1]
    if (inputs.positionIds === undefined) temporaries.push(positions);
    const bias = attentionBias(mask, 1, cache.length, undefined, cache.capacity); // [B, 1, 1, C]
    temporaries.push(bias);
    if (config.rope !== null) {
      // rotary models have no learned positions to run past (forward checks none either)
      const rope = ropeTables(positions, config.headDim, config.rope); // cos, sin [B, 1, 1, d]
      temporaries.push(rope.cos, rope.sin);
      return fusedLlamaDecodeStep(model, { inputIds: inputs.inputIds, bias, cos: rope.cos, sin: rope.sin, cache });
    }
    const positionMaximum = Math.max(...positions.dataSync());
    if (positionMaximum >= config.maxPositions) {
      throw new ShapeError(`CausalLM.forward: position ${positionMaximum} is past the model's ${config.maxPositions} learned positions`);
    }
    return fusedGpt2DecodeStep(model, { inputIds: inputs.inputIds, attentionMask: mask, positionIds: positions, cache }, bias);
  } finally {
    tf.dispose(temporaries);
  }
}
