import * as tf from '@tensorflow/tfjs';
import { siluMul } from '../ops/fused_activations';
import { mergeHeads, repeatKeyValueHeads, scaledDotProductAttention, splitHeads } from './attention';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import { ShapeError } from '../errors/errors';
import { applyLinear } from './linear';
import { rmsNorm } from './norms';
import { applyRope } from './rope';

/** One Llama/Qwen2/Mistral block: pre-RMSNorm attention with RoPE and grouped-query heads, then a SwiGLU MLP. */
export function llamaBlock(source: ParameterSource, layer: number, x: tf.Tensor3D, context: BlockContext): BlockOutput {
  const prefix = `model.layers.${layer}`;
  const { numHeads, numKeyValueHeads, headDim, normEpsilon } = source.config;
  const rope = context.rope;
  if (rope === null) throw new ShapeError(`llamaBlock: layer ${layer} needs rotary tables`);
  return tf.tidy(() => {
    const normed = rmsNorm(x, source.tensor(`${prefix}.input_layernorm.weight`), normEpsilon);
    const q = splitHeads(applyLinear(source.linear(`${prefix}.self_attn.q_proj`), normed), numHeads, headDim); // [B, H, T, d]
    const k = splitHeads(applyLinear(source.linear(`${prefix}.self_attn.k_proj`), normed), numKeyValueHeads, headDim); // [B, Hkv, T, d]
    const newValue = splitHeads(applyLinear(source.linear(`${prefix}.self_attn.v_proj`), normed), numKeyValueHeads, headDim);
    const query = applyRope(q, rope.cos, rope.sin);
    const newKey = applyRope(k, rope.cos, rope.sin);
    const key = context.pastKey === null ? newKey : (tf.concat([context.pastKey, newKey], 2) as tf.Tensor4D); // [B, Hkv, S, d]
    const value = context.pastValue === null ? newValue : (tf.concat([context.pastValue, newValue], 2) as tf.Tensor4D);
    const groups = numHeads / numKeyValueHeads;
    const attended = scaledDotProductAttention(query, repeatKeyValueHeads(key, groups), repeatKeyValueHeads(value, groups), context.bias);
    const afterAttention = tf.add(x, applyLinear(source.linear(`${prefix}.self_attn.o_proj`), mergeHeads(attended))); // [B, T, D]
    const normed2 = rmsNorm(afterAttention, source.tensor(`${prefix}.post_attention_layernorm.weight`), normEpsilon);
    const gate = applyLinear(source.linear(`${prefix}.mlp.gate_proj`), normed2); // [B, T, I]
    const up = applyLinear(source.linear(`${prefix}.mlp.up_proj`), normed2); // [B, T, I]
    const hidden = tf.add(afterAttention, applyLinear(source.linear(`${prefix}.mlp.down_proj`), siluMul(gate, up))) as tf.Tensor3D; // SiLU(gate)·up fused
    return { hidden, key, value };
  });
}
