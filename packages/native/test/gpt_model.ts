// A GPT-2-like causal language model in plain tf ops, used by the whole-model tests and the training-step bench:
// token + position embeddings (gather), pre-layernorm blocks with causal softmax attention and a tanh-gelu MLP,
// final layernorm and an LM head tied to the token embedding (matmul with transposeB).
import * as tf from '@tensorflow/tfjs';

export interface GptShape {
  readonly layers: number;
  readonly modelDim: number;
  readonly heads: number;
  readonly vocab: number;
  readonly sequence: number;
  readonly batch: number;
}

export const referenceShape: GptShape = { layers: 4, modelDim: 256, heads: 4, vocab: 1024, sequence: 128, batch: 8 };

/** Deterministic values in [-scale, scale). */
function values(size: number, seed: number, scale: number): Float32Array {
  const result = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    result[i] = ((state / 4294967296) * 2 - 1) * scale;
  }
  return result;
}

/** Named weights, deterministic for a given shape (same numbers on every backend). */
export function makeGptWeights(shape: GptShape): Record<string, tf.Variable> {
  const { layers, modelDim: d, vocab, sequence } = shape;
  const weights: Record<string, tf.Variable> = {};
  let seed = 1;
  const add = (name: string, dims: number[], scale: number, constant?: number): void => {
    const size = dims.reduce((p, q) => p * q, 1);
    const data = constant === undefined ? values(size, seed++, scale) : new Float32Array(size).fill(constant);
    weights[name] = tf.variable(tf.tensor(data, dims), true, name);
  };
  add('wte', [vocab, d], 0.05);
  add('wpe', [sequence, d], 0.02);
  for (let l = 0; l < layers; l++) {
    add(`h${l}.ln1.g`, [d], 0, 1);
    add(`h${l}.ln1.b`, [d], 0, 0);
    add(`h${l}.attn.w`, [d, 3 * d], 0.05);
    add(`h${l}.attn.b`, [3 * d], 0.01);
    add(`h${l}.proj.w`, [d, d], 0.05);
    add(`h${l}.proj.b`, [d], 0.01);
    add(`h${l}.ln2.g`, [d], 0, 1);
    add(`h${l}.ln2.b`, [d], 0, 0);
    add(`h${l}.fc.w`, [d, 4 * d], 0.05);
    add(`h${l}.fc.b`, [4 * d], 0.01);
    add(`h${l}.out.w`, [4 * d, d], 0.03);
    add(`h${l}.out.b`, [d], 0.01);
  }
  add('lnf.g', [d], 0, 1);
  add('lnf.b', [d], 0, 0);
  return weights;
}

/** Token ids and next-token targets, [B, T] int32 each. */
export function makeGptBatch(shape: GptShape, seed = 7): { ids: tf.Tensor2D; targets: tf.Tensor2D } {
  const size = shape.batch * shape.sequence;
  const raw = values(size + 1, seed, 1);
  const tokens = Int32Array.from(raw, (v) => Math.floor(((v + 1) / 2) * shape.vocab) % shape.vocab);
  return {
    ids: tf.tensor2d(tokens.subarray(0, size), [shape.batch, shape.sequence], 'int32'),
    targets: tf.tensor2d(tokens.subarray(1, size + 1), [shape.batch, shape.sequence], 'int32'),
  };
}

function layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const mean = tf.mean(x, -1, true); // [N, 1]
  const centered = tf.sub(x, mean); // [N, D]
  const variance = tf.mean(tf.square(centered), -1, true); // [N, 1]
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, 1e-5))), gain), bias);
}

function gelu(x: tf.Tensor): tf.Tensor {
  // GPT-2's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.square(x)))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/**
 * Mean next-token cross-entropy of the model on (ids, targets). `embedding: 'oneHotMatMul'` looks tokens up as
 * oneHot(ids) x wte for backends without UnsortedSegmentSum (wasm), whose gather has no gradient.
 */
export function gptLoss(shape: GptShape, w: Record<string, tf.Variable>, ids: tf.Tensor2D, targets: tf.Tensor2D,
  embedding: 'gather' | 'oneHotMatMul' = 'gather'): tf.Scalar {
  const { layers, modelDim: d, heads, vocab } = shape;
  const [batch, time] = ids.shape;
  const headDim = d / heads;
  const rows = batch * time;
  const get = (name: string): tf.Variable => {
    const weight = w[name];
    if (weight === undefined) throw new Error(`gptLoss: missing weight ${name}`);
    return weight;
  };
  const positions = tf.slice(get('wpe'), [0, 0], [time, d]); // [T, D]
  const tokens = embedding === 'gather'
    ? tf.gather(get('wte'), ids) // [B, T, D]
    : tf.reshape(tf.matMul(tf.oneHot(tf.reshape(ids, [rows]), vocab), get('wte')), [batch, time, d]); // [B, T, D]
  let x = tf.reshape(tf.add(tokens, positions), [rows, d]); // [B*T, D]
  const causal = tf.linalg.bandPart(tf.ones([time, time]), -1, 0); // [T, T] lower triangle
  const maskBias = tf.mul(tf.sub(1, causal), -1e9); // [T, T]
  for (let l = 0; l < layers; l++) {
    const h = layerNorm(x, get(`h${l}.ln1.g`), get(`h${l}.ln1.b`)); // [B*T, D]
    const qkv = tf.add(tf.matMul(h, get(`h${l}.attn.w`)), get(`h${l}.attn.b`)); // [B*T, 3D]
    const [q, k, v] = tf.split(qkv, 3, 1).map((part) =>
      tf.reshape(tf.transpose(tf.reshape(part, [batch, time, heads, headDim]), [0, 2, 1, 3]), [batch * heads, time, headDim]),
    ) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // [B*H, T, dh]
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim)), maskBias); // [B*H, T, T]
    const attended = tf.matMul(tf.softmax(scores), v); // [B*H, T, dh]
    const merged = tf.reshape(tf.transpose(tf.reshape(attended, [batch, heads, time, headDim]), [0, 2, 1, 3]), [rows, d]); // [B*T, D]
    x = tf.add(x, tf.add(tf.matMul(merged, get(`h${l}.proj.w`)), get(`h${l}.proj.b`)));
    const h2 = layerNorm(x, get(`h${l}.ln2.g`), get(`h${l}.ln2.b`)); // [B*T, D]
    const hidden = gelu(tf.add(tf.matMul(h2, get(`h${l}.fc.w`)), get(`h${l}.fc.b`))); // [B*T, 4D]
    x = tf.add(x, tf.add(tf.matMul(hidden, get(`h${l}.out.w`)), get(`h${l}.out.b`)));
  }
  const final = layerNorm(x, get('lnf.g'), get('lnf.b')); // [B*T, D]
  const logits = tf.matMul(final, get('wte'), false, true); // [B*T, V]
  const logProbs = tf.logSoftmax(logits); // [B*T, V]
  const picked = tf.sum(tf.mul(logProbs, tf.oneHot(tf.reshape(targets, [rows]), vocab)), -1); // [B*T]
  return tf.neg(tf.mean(picked)) as tf.Scalar;
}
