import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { initBackend } from '../../src/backend/init_backend';
import { generate } from '../../src/generation/generate';
import { LLAMA_DECODE_STEP_KERNEL, fusedLlamaDecodeStep } from '../../src/model/llama_fused_decode';
import { createCausalLM, loadCausalLM } from '../../src/model/model_factory';
import type { ModelConfigOptions } from '../../src/model/model_config';
import type { CausalLM } from '../../src/model/causal_lm';
import { createKVCache, disposeCache } from '../../src/model/kv_cache';
import { decodeStepLogits, describeNativeFor, withoutKernels, wrapLinear } from './fused_decode_helpers';

// The fused Llama-family decode step of @rlhfjs/native (one native call per one-token step) against the portable
// layer-by-layer forward on the same backend (the kernel unregistered). CI builds the addon, so there a missing
// addon fails.
const describeNative = describeNativeFor('native llama fused decode test');

/** Runs `fn` with the fused step unregistered from the active backend, then restores it. */
function portable<T>(fn: () => T): T {
  if (tf.getKernel(LLAMA_DECODE_STEP_KERNEL, tf.getBackend()) === undefined) throw new Error(`${LLAMA_DECODE_STEP_KERNEL} is not registered on ${tf.getBackend()}`);
  return withoutKernels([LLAMA_DECODE_STEP_KERNEL], fn);
}

// Odd sizes on purpose: vocab and intermediate sizes that are not multiples of the kernels' vector width and tiles.
const BASE = { vocabSize: 97, hiddenSize: 64, numLayers: 2, numHeads: 4, intermediateSize: 70, maxPositions: 64 } as const;
const CONFIGS: [string, ModelConfigOptions][] = [
  // GQA (2 query heads per key/value head), mlp biases, tied head, llama3 rope
  ['llama (GQA, mlp_bias, tied, llama3 rope)', { ...BASE, modelType: 'llama', numKeyValueHeads: 2, mlpBias: true, tieWordEmbeddings: true,
    ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } }],
  // q/k/v biases, one key/value head, untied lm_head, dynamic NTK rope (depends on the step's position)
  ['qwen2 (q/k/v biases, MQA, untied, dynamic rope)', { ...BASE, modelType: 'qwen2', numKeyValueHeads: 1, tieWordEmbeddings: false, ropeScaling: { type: 'dynamic', factor: 2 } }],
  // per-head q/k RMSNorm, head_dim unlike hidden/heads, q/k/v/o biases, linear rope
  ['qwen3 (q/k norm, head_dim 24, attention_bias, linear rope)', { ...BASE, modelType: 'qwen3', numKeyValueHeads: 2, headDim: 24, attentionBias: true,
    tieWordEmbeddings: false, ropeScaling: { type: 'linear', factor: 2 } }],
];

/** Every parameter redrawn at a scale where a wrong kernel moves the logits far past the 1e-4 tolerance. */
function randomize(model: CausalLM, seed: number): void {
  let index = 0;
  for (const [name, variable] of model.namedParameters()) {
    const noise = tf.randomNormal(variable.shape, 0, 1, 'float32', seed + index++);
    const value = name.endsWith('norm.weight') ? tf.add(1, tf.mul(noise, 0.3)) : tf.mul(noise, name.includes('embed') ? 1 : 0.3);
    variable.assign(value);
    tf.dispose([noise, value]);
  }
}

const PROMPTS = [[5, 6, 7, 8, 9], [0, 0, 9, 10, 11], [0, 0, 0, 0, 12], [13, 14, 15, 16, 17], [0, 18, 19, 20, 21]];
const MASKS = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]];

/** Logits [B, V] of a prefill then `steps` one-token steps (fixed tokens) on a preallocated cache, one array per step. */
function decodeLogits(model: CausalLM, batch: number, steps: number): Float32Array[] {
  const prompt = PROMPTS.slice(0, batch);
  return decodeStepLogits(model, prompt, MASKS.slice(0, batch), steps, (step) => prompt.map((_, b) => [(11 * step + 7 * b) % model.config.vocabSize]));
}

/**
 * Checks the fused step's logits against the portable forward's at every step of decodeLogits (within 1e-4) and
 * that numTensors stays flat; returns the largest reference logit (so callers can check the test means something).
 */
function fusedAgainstPortable(model: CausalLM, batch: number): number {
  decodeLogits(model, batch, 1);
  const before = tf.memory().numTensors;
  const fused = decodeLogits(model, batch, 4);
  expect(tf.memory().numTensors).toBe(before);
  const reference = portable(() => decodeLogits(model, batch, 4));
  let spread = 0;
  fused.forEach((values, step) => {
    let worst = 0;
    values.forEach((value, i) => {
      const expected = reference[step]?.[i] as number;
      worst = Math.max(worst, Math.abs(value - expected));
      spread = Math.max(spread, Math.abs(expected));
    });
    expect(worst).toBeLessThan(1e-4);
  });
  return spread;
}

// Checkpoints saved by transformers 5 (tools/golden/hub_checkpoints.py): every rope type, Qwen2 and Qwen3.
const HUB = path.join(__dirname, '..', 'fixtures', 'hub');
const HUB_CASES = ['llama_default', 'llama_linear', 'llama_dynamic', 'llama3', 'yarn', 'qwen2_theta', 'qwen3'];

describeNative('fused Llama-family decode step on the native backend', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'native' });
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  describe.each(CONFIGS)('%s', (_, options) => {
    let model: CausalLM;
    beforeAll(() => {
      model = createCausalLM(options, { seed: 1 });
      randomize(model, 100);
    });
    afterAll(() => model.dispose());

    it('a one-token step is one fused kernel call', async () => {
      const kernels = (await tf.profile(() => {
        decodeLogits(model, 2, 2);
      })).kernels.map((kernel) => kernel.name);
      expect(kernels.filter((name) => name === LLAMA_DECODE_STEP_KERNEL)).toHaveLength(2); // the two steps, not the prefill
      const without = (await tf.profile(() => portable(() => decodeLogits(model, 2, 2)))).kernels.map((kernel) => kernel.name);
      expect(without).not.toContain(LLAMA_DECODE_STEP_KERNEL);
    });

    it.each([1, 2, 5])('batch %i: the portable logits at every step (left padding, within 1e-4); numTensors flat', (batch) => {
      expect(fusedAgainstPortable(model, batch)).toBeGreaterThan(1); // logits large enough for the tolerance to mean something
    });

    it('greedy generation gives the portable tokens and log-probs', () => {
      const prompts = { inputIds: PROMPTS.slice(0, 3), attentionMask: MASKS.slice(0, 3) };
      const options = { maxNewTokens: 6, doSample: false, stopTokenIds: [] };
      const fused = generate(model, prompts, options);
      const reference = portable(() => generate(model, prompts, options));
      expect(fused.completionIds).toEqual(reference.completionIds);
      fused.logProbs.forEach((row, b) => row.forEach((value, t) => expect(Math.abs(value - (reference.logProbs[b]?.[t] as number))).toBeLessThan(1e-4)));
    });
  });

  it.each([1, 3])('products large enough to split over threads (256 × 2100 MLP; batch %i): the portable logits', (batch) => {
    // batch 1 splits each product's reduction over the threads, larger batches its output columns
    const model = createCausalLM({ ...BASE, modelType: 'llama', hiddenSize: 256, intermediateSize: 2100, numLayers: 1, numKeyValueHeads: 2 }, { seed: 3 });
    randomize(model, 300);
    try {
      expect(fusedAgainstPortable(model, batch)).toBeGreaterThan(1);
    } finally {
      model.dispose();
    }
  });

  it.each(HUB_CASES)('hub checkpoint %s: the portable logits at every step (batch 5, left padding) and greedy tokens', async (name) => {
    const model = await loadCausalLM(path.join(HUB, name));
    try {
      const kernels = (await tf.profile(() => {
        decodeLogits(model, 2, 1);
      })).kernels.map((kernel) => kernel.name);
      expect(kernels).toContain(LLAMA_DECODE_STEP_KERNEL);
      expect(fusedAgainstPortable(model, 5)).toBeGreaterThan(0.01);
      const prompts = { inputIds: PROMPTS.slice(0, 3), attentionMask: MASKS.slice(0, 3) };
      const options = { maxNewTokens: 6, doSample: false, stopTokenIds: [] };
      expect(generate(model, prompts, options).completionIds).toEqual(portable(() => generate(model, prompts, options)).completionIds);
    } finally {
      model.dispose();
    }
  });

  it('is taken outside a gradient tape and not under one (the portable forward stays differentiable)', () => {
    const model = createCausalLM(CONFIGS[0]![1], { seed: 2 });
    const cache = createKVCache(model.config, 1, 3);
    try {
      tf.tidy(() => {
        const step = (): ReturnType<typeof fusedLlamaDecodeStep> => fusedLlamaDecodeStep(model, {
          inputIds: tf.tensor2d([[3]], undefined, 'int32'), // [B, 1]
          bias: tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, // [B, 1, 1, C]
          cos: tf.ones([1, 1, 1, model.config.headDim]) as tf.Tensor4D, // [B, 1, 1, d]
          sin: tf.zeros([1, 1, 1, model.config.headDim]) as tf.Tensor4D,
          cache: { ...cache, length: 1 },
        });
        expect(step()).not.toBeNull();
        const taken: boolean[] = [];
        const x = tf.ones([2]);
        tf.grad((input: tf.Tensor) => {
          taken.push(step() !== null);
          return tf.sum(tf.square(input));
        })(x);
        expect(taken).toEqual([false]);
      });
    } finally {
      disposeCache(cache);
      model.dispose();
    }
  });

  it('a wrapped linear layer (as LoRA or 4-bit wrap one) keeps the portable forward, with the same logits', async () => {
    const model = createCausalLM(CONFIGS[1]![1], { seed: 3 });
    try {
      randomize(model, 200);
      const name = 'model.layers.1.mlp.up_proj';
      const inner = model.linear(name);
      const wrapper = wrapLinear(inner);
      const expected = decodeLogits(model, 2, 2);
      model.setLinear(name, wrapper);
      let actual: Float32Array[] = [];
      const kernels = (await tf.profile(() => {
        actual = decodeLogits(model, 2, 2);
      })).kernels.map((kernel) => kernel.name);
      model.setLinear(name, inner);
      expect(kernels).not.toContain(LLAMA_DECODE_STEP_KERNEL);
      actual.forEach((values, step) => values.forEach((value, i) => expect(Math.abs(value - (expected[step]?.[i] as number))).toBeLessThan(1e-4)));
    } finally {
      model.dispose();
    }
  });
});
