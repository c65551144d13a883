// `RlhfjsAttention` (the name @rlhfjs/core's scaledDotProductAttention looks for): softmax(q kᵀ/√d + bias) v in one
// pass for short query blocks (decode steps), with grouped-query heads read in place (query head h uses key/value
// head ⌊h / g⌋) and keys whose bias masks them skipped. Scores are rounded to float32 as the tfjs ops round them,
// so a fully masked row (finite −1e9 bias everywhere) gets the same uniform distribution. Core sends only blocks
// of a few queries here; long blocks (training, prefill) stay on batched GEMMs.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues } from './kernel_utils';

export const attentionKernelName = 'RlhfjsAttention';

/** A bias at or below this masks its key (core's attention bias uses −1e9). */
const MASKED_BELOW = -1e8;

function attention({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: NativeBackend }): tf.TensorInfo {
  const { q, k, v, bias } = inputs;
  const qv = floatValues(backend, q);
  const kv = floatValues(backend, k);
  const vv = floatValues(backend, v);
  const bv = floatValues(backend, bias);
  if (q === undefined || k === undefined || v === undefined || bias === undefined || qv === null || kv === null || vv === null || bv === null) {
    throw new Error(`${attentionKernelName}: q, k, v and bias must be float32 tensors`);
  }
  const [batch, heads, queries, dim] = q.shape as [number, number, number, number];
  const [, keyValueHeads, keys] = k.shape as [number, number, number, number];
  if (k.shape[0] !== batch || k.shape[3] !== dim || heads % keyValueHeads !== 0 || v.shape.join() !== k.shape.join() || bias.shape.join() !== [batch, 1, queries, keys].join()) {
    throw new Error(`${attentionKernelName}: shapes do not fit: q [${q.shape}], k [${k.shape}], v [${v.shape}], bias [${bias.shape}]`);
  }
  const groups = heads / keyValueHeads;
  const scale = Math.fround(1 / Math.sqrt(dim));
  const out = backend.allocate(batch * heads * queries * dim);
  const scores = new Float64Array(keys);
  const accumulator = new Float64Array(dim);
  const allowed = new Uint8Array(keys);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < queries; t++) {
      const biasRow = (b * queries + t) * keys; // bias [b, 0, t, :]
      let anyAllowed = false;
      for (let s = 0; s < keys; s++) {
        allowed[s] = (bv[biasRow + s] as number) > MASKED_BELOW ? 1 : 0;
        if (allowed[s] === 1) anyAllowed = true;
      }
      for (let h = 0; h < heads; h++) {
        const kvBase = (b * keyValueHeads + Math.floor(h / groups)) * keys * dim; // k[b, h / g, 0, 0]
        const qBase = ((b * heads + h) * queries + t) * dim; // q[b, h, t, 0]
        let maximum = -Infinity;
        for (let s = 0; s < keys; s++) {
          if (anyAllowed && allowed[s] === 0) continue;
          const kRow = kvBase + s * dim;
          let dot = 0;
          for (let i = 0; i < dim; i++) dot += (qv[qBase + i] as number) * (kv[kRow + i] as number);
          const score = Math.fround(Math.fround(Math.fround(dot) * scale) + (bv[biasRow + s] as number));
          scores[s] = score;
          if (score > maximum) maximum = score;
        }
        let total = 0;
        for (let s = 0; s < keys; s++) {
          if (anyAllowed && allowed[s] === 0) continue;
          const weight = Math.exp((scores[s] as number) - maximum);
          scores[s] = weight;
          total += weight;
        }
        accumulator.fill(0);
        for (let s = 0; s < keys; s++) {
          if (anyAllowed && allowed[s] === 0) continue;
          const weight = (scores[s] as number) / total;
          const vRow = kvBase + s * dim;
          for (let i = 0; i < dim; i++) accumulator[i] = (accumulator[i] as number) + weight * (vv[vRow + i] as number);
        }
        out.set(accumulator, qBase); // out[b, h, t, :]
      }
    }
  }
  return backend.makeOwnedTensorInfo([batch, heads, queries, dim], out);
}

/** Registers the attention kernel for `backendName` (the cpu backend has no such kernel). */
export function registerAttentionKernels(backendName: string): void {
  if (tf.getKernel(attentionKernelName, backendName) !== undefined) return;
  tf.registerKernel({ kernelName: attentionKernelName, backendName, kernelFunc: attention as unknown as tf.KernelFunc });
}
