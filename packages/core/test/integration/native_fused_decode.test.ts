import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { initBackend } from '../../src/backend/init_backend';
import { generate } from '../../src/generation/generate';
import { GPT2_DECODE_BLOCK_KERNEL, GPT2_DECODE_STEP_KERNEL, fusedGpt2DecodeBlock } from '../../src/model/fused_decode';
import { gpt2Block } from '../../src/model/gpt2_block';
import { loadCausalLM } from '../../src/model/model_factory';
import { ShapeError } from '../../src/errors/errors';
import type { CausalLM } from '../../src/model/causal_lm';
import { createKVCache, disposeCache } from '../../src/model/kv_cache';
import { decodeStepLogits, describeNativeFor, withoutKernels, wrapLinear } from './fused_decode_helpers';

// The fused GPT-2 decode block of @rlhfjs/native (one native call per layer for a one-token step) against the
// portable block ops on the same backend (the kernel unregistered). CI builds the addon, so there a missing addon fails.
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'models');

const describeNative = describeNativeFor('native fused decode test');

const FUSED = [GPT2_DECODE_STEP_KERNEL, GPT2_DECODE_BLOCK_KERNEL];

/** The portable block ops: both fused kernels unregistered. */
function withoutFusedKernel<T>(fn: () => T): T {
  return withoutKernels(FUSED, fn);
}

/** Logits [B, V] of a prefill then `steps` one-token steps (fixed tokens) on a preallocated cache, one array per step. */
function decodeLogits(model: CausalLM, steps: number): Float32Array[] {
  return decodeStepLogits(model, [[5, 6, 7, 8], [0, 0, 9, 10]], [[1, 1, 1, 1], [0, 0, 1, 1]], steps, (step) => [[11 + step], [20 + step]]);
}

describeNative('fused GPT-2 decode block on the native backend', () => {
  let model: CausalLM;
  beforeAll(async () => {
    await initBackend({ backend: 'native' });
    model = await loadCausalLM(path.join(FIXTURES, 'gpt2'));
  });
  afterAll(async () => {
    model.dispose();
    await tf.setBackend('cpu');
  });

  it('a one-token step is one fused step kernel (or one fused block kernel per layer without it)', async () => {
    const names = async (): Promise<string[]> => (await tf.profile(() => {
      decodeLogits(model, 1);
    })).kernels.map((kernel) => kernel.name);
    const step = await names();
    expect(step.filter((name) => name === GPT2_DECODE_STEP_KERNEL)).toHaveLength(1); // the step, not the prefill
    expect(step.filter((name) => name === GPT2_DECODE_BLOCK_KERNEL)).toHaveLength(0);
    const blocks = await withoutKernels([GPT2_DECODE_STEP_KERNEL], () => names());
    expect(blocks.filter((name) => name === GPT2_DECODE_BLOCK_KERNEL)).toHaveLength(model.config.numLayers);
    const portable = await withoutFusedKernel(() => names());
    expect(portable.some((name) => FUSED.includes(name))).toBe(false);
    expect(step.length).toBeLessThan(blocks.length);
    expect(blocks.length).toBeLessThan(portable.length); // the block's ~30 kernels per layer became one
  });

  it.each([
    ['whole-step kernel', [] as string[]],
    ['per-block kernel', [GPT2_DECODE_STEP_KERNEL]],
  ])('%s: gives the portable logits at every step (left-padded batch, within 1e-4); numTensors flat', (_, removed) => {
    withoutKernels(removed, () => {
      decodeLogits(model, 1);
      const before = tf.memory().numTensors;
      const fused = decodeLogits(model, 5);
      expect(tf.memory().numTensors).toBe(before);
      const portable = withoutFusedKernel(() => decodeLogits(model, 5));
      fused.forEach((values, step) => {
        let worst = 0;
        values.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - (portable[step]?.[i] as number)))));
        expect(worst).toBeLessThan(1e-4);
      });
    });
  });

  it('an out-of-vocabulary id on a fused step is the same ShapeError as on the portable path', () => {
    const cache = createKVCache(model.config, 1, 4);
    try {
      const ids = tf.tensor2d([[model.config.vocabSize]], undefined, 'int32');
      const after = { ...cache, length: 1 };
      expect(() => model.forward({ inputIds: ids, attentionMask: tf.tensor2d([[1, 1]], undefined, 'int32'), cache: after, useCache: true, logits: 'last' })).toThrow(ShapeError);
      expect(() => model.forward({ inputIds: ids, attentionMask: tf.tensor2d([[1, 1]], undefined, 'int32'), cache: after, useCache: true, logits: 'last' })).toThrow(/vocabulary/);
      ids.dispose();
    } finally {
      disposeCache(cache);
    }
  });

  it('greedy and sampled generation give the portable tokens and log-probs (within 1e-4)', () => {
    const prompts = { inputIds: [[5, 6, 7, 8], [0, 0, 9, 10]], attentionMask: [[1, 1, 1, 1], [0, 0, 1, 1]] };
    for (const options of [{ maxNewTokens: 8, doSample: false, stopTokenIds: [] }, { maxNewTokens: 8, doSample: true, seed: 3, topK: 20, stopTokenIds: [] }]) {
      const fused = generate(model, prompts, options);
      const portable = withoutFusedKernel(() => generate(model, prompts, options));
      expect(fused.completionIds).toEqual(portable.completionIds);
      fused.logProbs.forEach((row, b) => row.forEach((value, t) => expect(Math.abs(value - (portable.logProbs[b]?.[t] as number))).toBeLessThan(1e-4)));
    }
  });

  it('is taken outside a gradient tape and not under one (the portable block stays differentiable)', () => {
    const { numHeads, headDim, hiddenSize } = model.config;
    tf.tidy(() => {
      const context = {
        bias: tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, // [B, 1, 1, C]
        rope: null,
        pastKey: tf.zeros([1, numHeads, 3, headDim]) as tf.Tensor4D, // [B, H, C, d]
        pastValue: tf.zeros([1, numHeads, 3, headDim]) as tf.Tensor4D,
        pastLength: 1,
      };
      const x = tf.randomUniform([1, 1, hiddenSize], -1, 1, 'float32', 5) as tf.Tensor3D; // [B, 1, D]
      expect(fusedGpt2DecodeBlock(model, 0, x, context)).not.toBeNull();
      const taken: boolean[] = [];
      const gradient = tf.grad((input: tf.Tensor) => {
        taken.push(fusedGpt2DecodeBlock(model, 0, input as tf.Tensor3D, context) !== null);
        return tf.sum(gpt2Block(model, 0, input as tf.Tensor3D, { ...context, pastKey: null, pastValue: null, bias: tf.zeros([1, 1, 1, 1]) as tf.Tensor4D }).hidden);
      })(x);
      expect(taken).toEqual([false]);
      expect(gradient.shape).toEqual([1, 1, hiddenSize]);
    });
  });

  it('a wrapped linear layer (as LoRA or 4-bit wrap one) keeps the portable block, with the same logits', async () => {
    const name = 'transformer.h.1.attn.c_attn';
    const inner = model.linear(name);
    const wrapper = wrapLinear(inner);
    const expected = withoutFusedKernel(() => decodeLogits(model, 2));
    model.setLinear(name, wrapper);
    try {
      const profile = await tf.profile(() => {
        const actual = decodeLogits(model, 2);
        actual.forEach((values, step) => values.forEach((value, i) => expect(Math.abs(value - (expected[step]?.[i] as number))).toBeLessThan(1e-4)));
      });
      const names = profile.kernels.map((kernel) => kernel.name);
      expect(names).not.toContain(GPT2_DECODE_STEP_KERNEL);
      expect(names.filter((kernelName) => kernelName === GPT2_DECODE_BLOCK_KERNEL)).toHaveLength(2 * (model.config.numLayers - 1)); // every other layer, 2 steps
    } finally {
      model.setLinear(name, inner);
    }
  });

  it('a kernel call with a cache of another batch size throws, naming the shapes', () => {
    const inputs: tf.NamedTensorMap = {};
    tf.tidy(() => {
      inputs['x'] = tf.zeros([2, 1, model.config.hiddenSize]);
      inputs['keyCache'] = tf.zeros([1, model.config.numHeads, 4, model.config.headDim]);
      inputs['valueCache'] = tf.zeros([1, model.config.numHeads, 4, model.config.headDim]);
      inputs['bias'] = tf.zeros([2, 1, 1, 4]);
      expect(() => tf.engine().runKernel(GPT2_DECODE_BLOCK_KERNEL, inputs, { position: 0, epsilon: 1e-5 })).toThrow(/shapes do not fit|must be float32/);
    });
  });
});
