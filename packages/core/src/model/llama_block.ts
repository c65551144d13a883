import * as tf from '@tensorflow/tfjs';
import { siluMul } from '../ops/fused_activations';
import { mergeHeads, scaledDotProductAttention, splitHeads } from './attention';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import { ShapeError } from '../errors/errors';
import { appendKeyValue } from './kv_cache';
import { applyLinear } from './linear';
import { rmsNorm } from './norms';
import { applyRope } from './rope';

/**
 * One Llama/Qwen2/Qwen3/Mistral block: pre-RMSNorm attention with RoPE and grouped-query heads (Qwen3 also
 * RMSNorms each query and key head before rotary), then a SwiGLU MLP.
 */
export function llamaBlock(source: ParameterSource, layer: number, x: tf.Tensor3D, context: BlockContext): BlockOutput {
  const prefix = `model.layers.${layer}`;
  const { numHeads, numKeyValueHeads, headDim, normEpsilon } = source.config;
  const rope = context.rope;
  if (rope === null) throw new ShapeError(`llamaBlock: layer ${layer} needs rotary tables`);
  return tf.tidy(() => {
    const normed = rmsNorm(x, source.tensor(`${prefix}.input_layernorm.weight`), normEpsilon);
    let q = splitHeads(applyLinear(source.linear(`${prefix}.self_attn.q_proj`), normed), numHeads, headDim); // [B, H, T, d]
    let k = splitHeads(applyLinear(source.linear(`${prefix}.self_attn.k_proj`), normed), numKeyValueHeads, headDim); // [B, Hkv, T, d]
    if (source.config.queryKeyNorm) {
      // Qwen3: RMSNorm over each head's d features, before rotary.
      q = rmsNorm(q, source.tensor(`${prefix}.self_attn.q_norm.weight`), normEpsilon) as tf.Tensor4D; // [B, H, T, d]
      k = rmsNorm(k, source.tensor(`${prefix}.self_attn.k_norm.weight`), normEpsilon) as tf.Tensor4D; // [B, Hkv, T, d]
    }
    const newValue = splitHeads(applyLinear(source.linear(`${prefix}.self_attn.v_proj`), normed), numKeyValueHeads, headDim);
    const query = applyRope(q, rope.cos, rope.sin);
    const newKey = applyRope(k, rope.cos, rope.sin);
    const key = appendKeyValue(context.pastKey, newKey, context.pastLength); // [B, Hkv, S, d]
    const value = appendKeyValue(context.pastValue, newValue, context.pastLength);
    const attended = scaledDotProductAttention(query, key, value, context.bias); // [B, H, T, d], GQA without repeats
    const afterAttention = tf.add(x, applyLinear(source.linear(`${prefix}.self_attn.o_proj`), mergeHeads(attended))); // [B, T, D]
    const normed2 = rmsNorm(afterAttention, source.tensor(`${prefix}.post_attention_layernorm.weight`), normEpsilon);
    const gate = applyLinear(source.linear(`${prefix}.mlp.gate_proj`), normed2); // [B, T, I]
    const up = applyLinear(source.linear(`${prefix}.mlp.up_proj`), normed2); // [B, T, I]
    const hidden = tf.add(afterAttention, applyLinear(source.linear(`${prefix}.mlp.down_proj`), siluMul(gate, up))) as tf.Tensor3D; // SiLU(gate)·up fused
    return { hidden, key, value };
  });
}
