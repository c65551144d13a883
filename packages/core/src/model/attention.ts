import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { hasKernel } from '../backend/capabilities';
import { customOp } from '../ops/custom_op';
import { batchMatMul } from '../ops/mat_mul';

const MASKED = -1e9;

/**
 * Additive attention bias [B, 1, T, S] for T new queries over S = past + T keys: a query at absolute position
 * past + i sees key j when j ≤ past + i, the key is not padding (attentionMask [B, S] is 1) and, when packing,
 * both belong to the same example (segmentIds [B, T], only without a cache). Fully masked rows (left-padding
 * queries) get a uniform distribution rather than NaN because the bias is finite. With `keyLength` > S (a
 * preallocated KV cache of that capacity) the keys past S are masked too. Built on the host in one pass (the mask
 * is small): one tensor instead of a dozen small kernels on every decode step.
 */
export function attentionBias(
  attentionMask: tf.Tensor2D,
  queryLength: number,
  pastLength: number,
  segmentIds?: tf.Tensor2D,
  keyLength?: number,
): tf.Tensor4D {
  const [batch, maskLength] = attentionMask.shape;
  const keys = keyLength ?? maskLength;
  if (keys < maskLength) throw new ShapeError(`attentionBias: keyLength ${keys} is shorter than the attention mask [${attentionMask.shape}]`);
  if (segmentIds !== undefined && (segmentIds.shape[0] !== batch || segmentIds.shape[1] !== queryLength || maskLength !== queryLength)) {
    throw new ShapeError(`attentionBias: segmentIds [${segmentIds.shape}] need mask [${attentionMask.shape}] of the same [B, T] (no cache)`);
  }
  const mask = attentionMask.dataSync();
  const segments = segmentIds?.dataSync();
  const bias = new Float32Array(batch * queryLength * keys); // [B, 1, T, S]
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < queryLength; t++) {
      const row = (b * queryLength + t) * keys;
      for (let s = 0; s < keys; s++) {
        const allowed =
          s < maskLength &&
          s <= pastLength + t &&
          (mask[b * maskLength + s] as number) > 0 &&
          (segments === undefined || segments[b * queryLength + t] === segments[b * queryLength + s]);
        bias[row + s] = allowed ? 0 : MASKED;
      }
    }
  }
  return tf.tensor4d(bias, [batch, 1, queryLength, keys]);
}

/**
 * Repeats each key/value head `groups` times: [B, Hkv, S, d] → [B, Hkv·groups, S, d]. The model no longer needs it
 * (scaledDotProductAttention reads grouped heads in place); kept as the plain reference the tests compare against.
 */
export function repeatKeyValueHeads(x: tf.Tensor4D, groups: number): tf.Tensor4D {
  if (groups === 1) return x;
  return tf.tidy(() => {
    const [batch, heads, length, dim] = x.shape;
    // tfjs has tile gradients up to rank 4, so tile a rank-3 view: [B·Hkv, 1, S·d] → [B·Hkv, g, S·d]
    const expanded = tf.tile(tf.reshape(x, [batch * heads, 1, length * dim]), [1, groups, 1]);
    return tf.reshape(expanded, [batch, heads * groups, length, dim]) as tf.Tensor4D;
  });
}

/**
 * Name of a backend kernel computing scaledDotProductAttention in one pass (inputs q, k, v, bias; same shapes). A
 * backend registers it for short query blocks (`@rlhfjs/native`); it is used for blocks of at most
 * ATTENTION_KERNEL_MAX_QUERIES queries (decode steps), with the portable backward below as its gradient.
 */
export const ATTENTION_KERNEL = 'RlhfjsAttention';
export const ATTENTION_KERNEL_MAX_QUERIES = 4;

function checkAttentionShapes(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D): void {
  const [batch, heads, queryLength, dim] = q.shape;
  const [keyBatch, keyValueHeads, keyLength, keyDim] = k.shape;
  if (keyBatch !== batch || keyDim !== dim || heads % keyValueHeads !== 0 || v.shape.some((size, i) => size !== k.shape[i])) {
    throw new ShapeError(`scaledDotProductAttention: q [${q.shape}] does not fit k [${k.shape}] and v [${v.shape}] (need equal B and d, H a multiple of Hkv)`);
  }
  if (bias.shape[0] !== batch || bias.shape[1] !== 1 || bias.shape[2] !== queryLength || bias.shape[3] !== keyLength) {
    throw new ShapeError(`scaledDotProductAttention: bias is [${bias.shape}], expected [${batch}, 1, ${queryLength}, ${keyLength}]`);
  }
}

/** softmax(q kᵀ/√d + bias) as [B·Hkv, g·T, S] (the g query heads of one key/value head in one block). */
function attentionProbabilities(q: tf.Tensor4D, k: tf.Tensor4D, bias: tf.Tensor4D): tf.Tensor3D {
  const [batch, heads, queryLength, dim] = q.shape;
  const [, keyValueHeads, keyLength] = k.shape;
  const groups = heads / keyValueHeads;
  const q3 = tf.reshape(q, [batch * keyValueHeads, groups * queryLength, dim]) as tf.Tensor3D; // [B·Hkv, g·T, d]
  const k3 = tf.reshape(k, [batch * keyValueHeads, keyLength, dim]) as tf.Tensor3D; // [B·Hkv, S, d]
  const scores = tf.mul(batchMatMul(q3, k3, false, true), 1 / Math.sqrt(dim)); // [B·Hkv, g·T, S]
  const biased = tf.add(tf.reshape(scores, [batch, heads, queryLength, keyLength]), bias); // [B, H, T, S]
  return tf.reshape(tf.softmax(biased), [batch * keyValueHeads, groups * queryLength, keyLength]) as tf.Tensor3D; // [B·Hkv, g·T, S]
}

/** The portable forward: batched matmuls over [B·Hkv] blocks, differentiated by tfjs. */
function portableAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, heads, queryLength, dim] = q.shape;
    const [, keyValueHeads, keyLength] = k.shape;
    const v3 = tf.reshape(v, [batch * keyValueHeads, keyLength, dim]) as tf.Tensor3D; // [B·Hkv, S, d]
    const context = batchMatMul(attentionProbabilities(q, k, bias), v3); // [B·Hkv, g·T, d]
    return tf.reshape(context, [batch, heads, queryLength, dim]) as tf.Tensor4D; // [B, H, T, d]
  });
}

/**
 * Gradients of scaledDotProductAttention with respect to q, k, v and bias for the upstream gradient dy
 * [B, H, T, d], written as plain tfjs ops (the probabilities are recomputed, not saved):
 * dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − Σ_s dP ⊙ P), dQ = dS K/√d, dK = dSᵀ Q/√d, dbias = Σ_h dS.
 */
export function attentionBackward(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D, dy: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    const [batch, heads, queryLength, dim] = q.shape;
    const [, keyValueHeads, keyLength] = k.shape;
    const groups = heads / keyValueHeads;
    const rows = batch * keyValueHeads;
    const probabilities = attentionProbabilities(q, k, bias); // [B·Hkv, g·T, S]
    const q3 = tf.reshape(q, [rows, groups * queryLength, dim]) as tf.Tensor3D; // [B·Hkv, g·T, d]
    const k3 = tf.reshape(k, [rows, keyLength, dim]) as tf.Tensor3D; // [B·Hkv, S, d]
    const v3 = tf.reshape(v, [rows, keyLength, dim]) as tf.Tensor3D; // [B·Hkv, S, d]
    const dOut = tf.reshape(dy, [rows, groups * queryLength, dim]) as tf.Tensor3D; // [B·Hkv, g·T, d]
    const dValue = batchMatMul(probabilities, dOut, true, false); // [B·Hkv, S, d]
    const dProbabilities = batchMatMul(dOut, v3, false, true); // [B·Hkv, g·T, S]
    const dScores = tf.mul(probabilities, tf.sub(dProbabilities, tf.sum(tf.mul(dProbabilities, probabilities), -1, true))) as tf.Tensor3D; // [B·Hkv, g·T, S]
    const scale = 1 / Math.sqrt(dim);
    const dQuery = tf.mul(batchMatMul(dScores, k3), scale); // [B·Hkv, g·T, d]
    const dKey = tf.mul(batchMatMul(dScores, q3, true, false), scale); // [B·Hkv, S, d]
    const dBias = tf.sum(tf.reshape(dScores, [batch, heads, queryLength, keyLength]), 1, true); // [B, 1, T, S]
    return [
      tf.reshape(dQuery, [batch, heads, queryLength, dim]) as tf.Tensor4D, // [B, H, T, d]
      tf.reshape(dKey, [batch, keyValueHeads, keyLength, dim]) as tf.Tensor4D, // [B, Hkv, S, d]
      tf.reshape(dValue, [batch, keyValueHeads, keyLength, dim]) as tf.Tensor4D, // [B, Hkv, S, d]
      dBias as tf.Tensor4D,
    ];
  });
}

/**
 * softmax(q kᵀ / √d + bias) v with grouped-query heads read in place (no repeated keys/values): query head h uses
 * key/value head ⌊h / g⌋, g = H / Hkv, as HF's repeat_kv lays them out. q: [B, H, T, d], k/v: [B, Hkv, S, d],
 * bias: [B, 1, T, S] (causal + padding, from attentionBias) → [B, H, T, d]. The g query heads of one key/value head
 * are one [g·T, d] block of a batched matmul against that head's [S, d] keys, so GQA costs no copy of K or V.
 * Short query blocks (decode) go to the backend's fused ATTENTION_KERNEL when it has one, with attentionBackward
 * as the gradient.
 */
export function scaledDotProductAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D): tf.Tensor4D {
  checkAttentionShapes(q, k, v, bias);
  const fused = q.shape[2] <= ATTENTION_KERNEL_MAX_QUERIES && hasKernel(ATTENTION_KERNEL) && [q, k, v, bias].every((t) => t.dtype === 'float32');
  if (!fused) return portableAttention(q, k, v, bias);
  const op = customOp(([query, key, value, mask], save) => {
    save([query, key, value, mask] as tf.Tensor[]);
    return {
      value: tf.engine().runKernel(ATTENTION_KERNEL, { q: query as tf.Tensor, k: key as tf.Tensor, v: value as tf.Tensor, bias: mask as tf.Tensor }, {}) as tf.Tensor4D, // [B, H, T, d]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sb] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        return attentionBackward(sq, sk, sv, sb, dy as tf.Tensor4D);
      },
    };
  });
  return op(q, k, v, bias) as tf.Tensor4D;
}

/** [B, T, H·d] → [B, H, T, d] */
export function splitHeads(x: tf.Tensor, heads: number, dim: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, length] = x.shape as [number, number, number];
    return tf.transpose(tf.reshape(x, [batch, length, heads, dim]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, d]
  });
}

/** [B, H, T, d] → [B, T, H·d] */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, heads, length, dim] = x.shape;
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [batch, length, heads * dim]) as tf.Tensor3D; // [B, T, H·d]
  });
}
