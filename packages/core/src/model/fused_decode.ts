import * as tf from '@tensorflow/tfjs';
import { hasKernel } from '../backend/capabilities';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import { Linear } from './linear';

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
  const linears = new Map<string, { weight: tf.Variable; bias: tf.Variable }>();
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
