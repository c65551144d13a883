import * as tf from '@tensorflow/tfjs';
import { geluNew } from '../ops/fused_activations';
import { mergeHeads, scaledDotProductAttention, splitHeads } from './attention';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import { fusedGpt2DecodeBlock } from './fused_decode';
import { appendKeyValue } from './kv_cache';
import { applyLinear } from './linear';
import { layerNorm } from './norms';

/** One GPT-2 block: x + attn(ln_1(x)), then + mlp(ln_2(·)), with a fused q/k/v projection (c_attn). x: [B, T, D]. */
export function gpt2Block(source: ParameterSource, layer: number, x: tf.Tensor3D, context: BlockContext): BlockOutput {
  const prefix = `transformer.h.${layer}`;
  const { hiddenSize, numHeads, headDim, normEpsilon } = source.config;
  const fused = fusedGpt2DecodeBlock(source, layer, x, context); // decode steps on a backend with the fused kernel
  if (fused !== null) return fused;
  return tf.tidy(() => {
    const normed1 = layerNorm(x, source.tensor(`${prefix}.ln_1.weight`), source.tensor(`${prefix}.ln_1.bias`), normEpsilon);
    const qkv = applyLinear(source.linear(`${prefix}.attn.c_attn`), normed1); // [B, T, 3D]
    const [q, k, v] = tf.split(qkv, [hiddenSize, hiddenSize, hiddenSize], 2) as [tf.Tensor, tf.Tensor, tf.Tensor]; // [B, T, D]
    const query = splitHeads(q, numHeads, headDim); // [B, H, T, d]
    const newKey = splitHeads(k, numHeads, headDim);
    const newValue = splitHeads(v, numHeads, headDim);
    const key = appendKeyValue(context.pastKey, newKey, context.pastLength); // [B, H, S, d]
    const value = appendKeyValue(context.pastValue, newValue, context.pastLength);
    const attended = mergeHeads(scaledDotProductAttention(query, key, value, context.bias)); // [B, T, D]
    const afterAttention = tf.add(x, applyLinear(source.linear(`${prefix}.attn.c_proj`), attended));
    const normed2 = layerNorm(afterAttention, source.tensor(`${prefix}.ln_2.weight`), source.tensor(`${prefix}.ln_2.bias`), normEpsilon);
    const up = geluNew(applyLinear(source.linear(`${prefix}.mlp.c_fc`), normed2)); // [B, T, 4D]
    const hidden = tf.add(afterAttention, applyLinear(source.linear(`${prefix}.mlp.c_proj`), up)) as tf.Tensor3D; // [B, T, D]
    return { hidden, key, value };
  });
}
