import * as tf from '@tensorflow/tfjs';
import { ConfigError, createCausalLM, Linear, type CausalLM, type ModelConfigOptions } from '@rlhfjs/core';
import { LoraLinear } from './lora_linear';
import {
  activeAdapter,
  addAdapter,
  adapterConfig,
  adapterNames,
  applyLora,
  deleteAdapter,
  loraLayers,
  mergeAdapters,
  removeLora,
  setActiveAdapter,
  setLoraTraining,
  unmergeAdapters,
  withAdaptersDisabled,
} from './lora_model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const LLAMA: ModelConfigOptions = { modelType: 'llama', vocabSize: 32, hiddenSize: 16, numLayers: 2, numHeads: 2, numKeyValueHeads: 1, tieWordEmbeddings: false };
const GPT2: ModelConfigOptions = { modelType: 'gpt2', vocabSize: 32, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 16 };
const IDS = [
  [1, 5, 9, 3, 7, 2],
  [4, 4, 8, 30, 0, 11],
];

function logits(model: CausalLM): Float32Array {
  return tf.tidy(() => model.forward({ inputIds: tf.tensor2d(IDS, undefined, 'int32') }).logits?.dataSync() as Float32Array);
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  a.forEach((value, i) => {
    worst = Math.max(worst, Math.abs(value - (b[i] as number)));
  });
  return worst;
}

/** Snapshot of every parameter's values by name. */
function snapshot(model: CausalLM): Map<string, Float32Array> {
  return new Map([...model.namedParameters()].map(([name, variable]) => [name, (variable.dataSync() as Float32Array).slice()]));
}

describe('applyLora', () => {
  let model: CausalLM;
  beforeEach(() => {
    model = createCausalLM(LLAMA, { seed: 3 });
  });
  afterEach(() => model.dispose());

  it('leaves the logits bit-identical with a fresh (B = 0) adapter and wraps only the targets', () => {
    const base = logits(model);
    const handle = applyLora(model, { r: 4, targetModules: ['q_proj', 'v_proj'] });
    expect(handle.modules).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    expect(model.linear('model.layers.0.self_attn.q_proj').kind).toBe('lora');
    expect(model.linear('model.layers.0.self_attn.k_proj').kind).toBe('linear');
    expect(logits(model)).toEqual(base);
    const parameters = handle.parameters();
    expect([...parameters.keys()]).toContain('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight');
    expect(parameters.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual([16, 4]); // [in, r] in memory
    expect(parameters.get('base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight')?.shape).toEqual([4, 8]); // [r, out]
  });

  it('initialises A like PEFT (kaiming-uniform bound 1/√in, or N(0, 1/r²)) and B at zero', () => {
    const handle = applyLora(model, { r: 8, targetModules: ['gate_proj'] });
    const a = handle.parameters().get('base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight')?.dataSync() as Float32Array;
    const bound = 1 / Math.sqrt(16);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect([...(handle.parameters().get('base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight')?.dataSync() ?? [])].every((v) => v === 0)).toBe(true);
    const gaussian = addAdapter(model, 'g', { r: 8, targetModules: 'all-linear', initialization: 'gaussian', seed: 5 });
    const values = [...gaussian.parameters()].filter(([name]) => name.includes('lora_A')).flatMap(([, v]) => [...v.dataSync()]);
    const std = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);
    expect(std).toBeGreaterThan(0.11);
    expect(std).toBeLessThan(0.14); // 1/r = 0.125 over ~1700 draws
  });

  it('makes only the adapter variables trainable and restores the flags on removeLora', () => {
    const before = [...model.trainableParameters().keys()];
    expect(before.length).toBeGreaterThan(10);
    applyLora(model, { r: 2, targetModules: /model\.layers\.1\..*_proj/ });
    const trainable = [...model.trainableParameters().keys()].sort();
    expect(trainable).toHaveLength(14);
    expect(trainable.every((name) => /^model\.layers\.1\..*\.lora_[AB]\.default\.weight$/.test(name))).toBe(true);
    removeLora(model);
    expect([...model.trainableParameters().keys()]).toEqual(before);
    expect(loraLayers(model).size).toBe(0);
  });

  it('changes only adapter weights in a gradient step', () => {
    applyLora(model, { r: 4, targetModules: ['q_proj', 'down_proj'], initialization: 'random' });
    const byVariable = new Map([...model.namedParameters()].map(([name, variable]) => [variable.name, name]));
    const before = snapshot(model);
    const { value, grads } = tf.variableGrads(() =>
      tf.tidy(() => tf.mean(tf.square(model.forward({ inputIds: tf.tensor2d(IDS, undefined, 'int32') }).logits as tf.Tensor)) as tf.Scalar),
    );
    const names = Object.keys(grads).map((variableName) => byVariable.get(variableName));
    expect(names.sort()).toEqual([...model.trainableParameters().keys()].sort());
    expect(names).toHaveLength(8);
    for (const [variableName, gradient] of Object.entries(grads)) {
      const variable = [...model.namedParameters().values()].find((v) => v.name === variableName) as tf.Variable;
      tf.tidy(() => variable.assign(tf.sub(variable, tf.mul(gradient, 0.1))));
    }
    tf.dispose([value, ...Object.values(grads)]);
    const after = snapshot(model);
    for (const [name, values] of before) {
      const changed = maxDifference(values, after.get(name) as Float32Array) > 0;
      expect([name, changed]).toEqual([name, /\.lora_[AB]\./.test(name)]);
    }
  });

  it('scales by alpha/r, or alpha/√r with rsLoRA', () => {
    const base = logits(model);
    applyLora(model, { r: 4, alpha: 8, targetModules: ['o_proj'], initialization: 'random', seed: 9 });
    expect(adapterConfig(model, 'default').scaling).toBe(2);
    const layer = model.linear('model.layers.0.self_attn.o_proj') as LoraLinear;
    const x = tf.randomNormal([3, 16], 0, 1, 'float32', 1) as tf.Tensor2D;
    const plain = tf.tidy(() => tf.sub(layer.forward(x), layer.base.forward(x)).dataSync() as Float32Array);
    // Independent check: delta = 2 · x @ A @ B.
    const adapter = layer.adapter('default');
    const expected = tf.tidy(() => tf.mul(tf.matMul(tf.matMul(x, adapter?.loraA as tf.Tensor), adapter?.loraB as tf.Tensor), 2).dataSync() as Float32Array);
    expect(maxDifference(plain, expected)).toBeLessThan(1e-5);
    removeLora(model);
    expect(logits(model)).toEqual(base);
    applyLora(model, { r: 4, alpha: 8, targetModules: ['o_proj'], initialization: 'random', seed: 9, useRslora: true });
    expect(adapterConfig(model, 'default').scaling).toBe(4); // 8 / √4
    const rslora = tf.tidy(() => {
      const lora = model.linear('model.layers.0.self_attn.o_proj') as LoraLinear;
      return tf.sub(lora.forward(x), lora.base.forward(x)).dataSync() as Float32Array;
    });
    expect(maxDifference(rslora, plain.map((v) => 2 * v))).toBeLessThan(1e-5); // same A, B (same seed), scaling doubled
    x.dispose();
  });

  it.each([['llama', LLAMA], ['gpt2 (Conv1D)', GPT2]])('merges and unmerges exactly enough (%s)', (_, options) => {
    const other = createCausalLM(options as ModelConfigOptions, { seed: 1 });
    try {
      const base = logits(other);
      const baseWeights = snapshot(other);
      applyLora(other, { r: 4, alpha: 8, targetModules: 'all-linear', initialization: 'random' });
      const adapted = logits(other);
      expect(maxDifference(adapted, base)).toBeGreaterThan(1e-2);
      mergeAdapters(other);
      const merged = logits(other);
      expect(maxDifference(merged, adapted)).toBeLessThan(1e-5);
      expect(maxDifference(withAdaptersDisabled(other, () => logits(other)), base)).toBeLessThan(1e-5);
      unmergeAdapters(other);
      expect(maxDifference(logits(other), adapted)).toBeLessThan(1e-5);
      for (const [name, values] of baseWeights) {
        const now = other.namedParameters().get(name) ?? other.namedParameters().get(name.replace(/\.(weight|bias)$/, '.base_layer.$1'));
        expect(maxDifference(now?.dataSync() as Float32Array, values)).toBeLessThan(1e-6);
      }
      removeLora(other, { merge: true });
      expect(other.linearNames().every((name) => other.linear(name) instanceof Linear)).toBe(true);
      expect(maxDifference(logits(other), adapted)).toBeLessThan(1e-5);
    } finally {
      other.dispose();
    }
  });

  it('withAdaptersDisabled gives the base logits and restores the adapters, also when fn throws', async () => {
    const base = logits(model);
    applyLora(model, { r: 4, targetModules: 'all-linear', initialization: 'random' });
    const adapted = logits(model);
    expect(withAdaptersDisabled(model, () => logits(model))).toEqual(base);
    expect(logits(model)).toEqual(adapted);
    expect(() =>
      withAdaptersDisabled(model, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(logits(model)).toEqual(adapted);
    const asyncResult = await withAdaptersDisabled(model, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return logits(model);
    });
    expect(asyncResult).toEqual(base);
    expect(logits(model)).toEqual(adapted);
    await expect(
      withAdaptersDisabled(model, async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw new Error('async boom');
      }),
    ).rejects.toThrow('async boom');
    expect(logits(model)).toEqual(adapted);
    expect(withAdaptersDisabled(model, () => withAdaptersDisabled(model, () => logits(model)))).toEqual(base); // nested
    expect(logits(model)).toEqual(adapted);
  });

  it('holds several named adapters with one active', () => {
    const base = logits(model);
    applyLora(model, { r: 2, targetModules: ['q_proj'], initialization: 'random', seed: 1 });
    const first = logits(model);
    addAdapter(model, 'second', { r: 3, targetModules: ['up_proj'], initialization: 'random', seed: 2 });
    expect(adapterNames(model)).toEqual(['default', 'second']);
    expect(activeAdapter(model)).toBe('default');
    expect(logits(model)).toEqual(first);
    setActiveAdapter(model, 'second');
    const second = logits(model);
    expect(maxDifference(second, first)).toBeGreaterThan(1e-3);
    expect([...model.trainableParameters().keys()].every((name) => name.includes('.lora_') && name.includes('.second.'))).toBe(true);
    expect(() => setActiveAdapter(model, 'third')).toThrow(ConfigError);
    deleteAdapter(model, 'second');
    expect(activeAdapter(model)).toBe('default');
    expect(model.linear('model.layers.0.mlp.up_proj').kind).toBe('linear');
    expect(logits(model)).toEqual(first);
    deleteAdapter(model, 'default');
    expect(loraLayers(model).size).toBe(0);
    expect(logits(model)).toEqual(base);
  });

  it('applies dropout only while training', () => {
    applyLora(model, { r: 4, targetModules: 'all-linear', initialization: 'random', dropout: 0.5, seed: 4 });
    const evaluation = logits(model);
    expect(logits(model)).toEqual(evaluation);
    setLoraTraining(model, true);
    const training1 = logits(model);
    const training2 = logits(model);
    expect(maxDifference(training1, evaluation)).toBeGreaterThan(1e-3);
    expect(maxDifference(training1, training2)).toBeGreaterThan(1e-3); // a fresh mask each call
    setLoraTraining(model, false);
    expect(logits(model)).toEqual(evaluation);
  });

  it('rejects bad options with one ConfigError', () => {
    expect(() => applyLora(model, {})).toThrow(ConfigError);
    expect(() => applyLora(model, { r: 0, dropout: 1, targetModules: ['q_proj'] })).toThrow(/r must be a positive integer[\s\S]*dropout must be in/);
    expect(() => applyLora(model, { targetModules: ['nothing_here'] })).toThrow(/match no linear module/);
    applyLora(model, { targetModules: ['q_proj'] });
    expect(() => applyLora(model, { targetModules: ['q_proj'] })).toThrow(/addAdapter/);
    expect(() => addAdapter(model, 'default', { targetModules: ['q_proj'] })).toThrow(/already has an adapter/);
  });

  it('does not leak tensors in forward, merge/unmerge and withAdaptersDisabled', () => {
    applyLora(model, { r: 4, targetModules: 'all-linear', initialization: 'random', dropout: 0.1 });
    setLoraTraining(model, true);
    logits(model);
    const start = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      logits(model);
      mergeAdapters(model);
      logits(model);
      unmergeAdapters(model);
      withAdaptersDisabled(model, () => logits(model));
    }
    expect(tf.memory().numTensors).toBe(start);
  });
});
