import { ConfigError } from '../errors/errors';
import { modelConfigOptionsOf, parseHfConfig, resolveModelConfig, type ModelConfig } from './model_config';
import { estimateModelSize, modelSizeProblems } from './model_size';
import { parameterSpecs } from './parameter_specs';

/** A valid transformers-5 Llama config.json; each hostile case changes one thing. */
function llama(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 96,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_parameters: { rope_type: 'default', rope_theta: 10000 },
    bos_token_id: 1,
    eos_token_id: 2,
    dtype: 'float32',
    ...overrides,
  };
}

function gpt2(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { model_type: 'gpt2', vocab_size: 96, n_embd: 32, n_layer: 2, n_head: 4, n_positions: 64, ...overrides };
}

/** The ConfigError thrown for `json`, checked to name config.json and every expected key. */
function configError(json: unknown, ...keys: string[]): ConfigError {
  let caught: unknown;
  try {
    parseHfConfig(json, 'model/config.json');
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.message).toContain('model/config.json');
  for (const key of keys) expect(error.message).toContain(key);
  return error;
}

describe('parseHfConfig: rotary settings', () => {
  it('reads transformers 5 rope_parameters (θ = 1e6 is not replaced by 10000)', () => {
    const config = parseHfConfig(llama({ model_type: 'qwen2', rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }));
    expect(config.rope?.theta).toBe(1e6);
    expect(config.rope?.scaling).toEqual({ type: 'default' });
  });

  it('reads the older top-level rope_theta and rope_scaling (legacy "type") into the same config', () => {
    const modern = parseHfConfig(llama({ rope_parameters: { rope_type: 'linear', factor: 4, rope_theta: 5e5 } }));
    const legacy = parseHfConfig(llama({ rope_parameters: undefined, rope_theta: 5e5, rope_scaling: { type: 'linear', factor: 4 } }));
    expect(legacy.rope).toEqual(modern.rope);
    expect(modern.rope?.parameters).toEqual({ rope_type: 'linear', factor: 4, rope_theta: 5e5 });
  });

  it('defaults θ to 10000 when no rotary key is given at all', () => {
    expect(parseHfConfig(llama({ rope_parameters: undefined })).rope?.theta).toBe(10000);
  });

  it('fills original_max_position_embeddings of llama3 and yarn from max_position_embeddings, as transformers does', () => {
    const llama3 = parseHfConfig(llama({ rope_parameters: { rope_type: 'llama3', rope_theta: 5e5, factor: 8, low_freq_factor: 1, high_freq_factor: 4 } }));
    expect(llama3.rope?.scaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 });
    expect(llama3.rope?.parameters['original_max_position_embeddings']).toBe(64);
    const yarn = parseHfConfig(llama({ max_position_embeddings: 128, rope_parameters: { rope_type: 'yarn', rope_theta: 1e6, factor: 4, original_max_position_embeddings: 32 } }));
    expect(yarn.rope?.scaling).toMatchObject({ type: 'yarn', factor: 4, originalMaxPositions: 32, betaFast: 32, betaSlow: 1, truncate: true });
    if (yarn.rope?.scaling.type !== 'yarn') throw new Error('expected yarn');
    expect(yarn.rope.scaling.attentionFactor).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
  });

  it('computes the yarn attention factor from mscale / mscale_all_dim, and from max/original when factor is null', () => {
    const withMscale = parseHfConfig(llama({ rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 40, mscale: 1, mscale_all_dim: 0.5, original_max_position_embeddings: 16 } }));
    if (withMscale.rope?.scaling.type !== 'yarn') throw new Error('expected yarn');
    expect(withMscale.rope.scaling.attentionFactor).toBeCloseTo((0.1 * Math.log(40) + 1) / (0.05 * Math.log(40) + 1), 12);
    const implicit = parseHfConfig(llama({ max_position_embeddings: 64, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: null, original_max_position_embeddings: 16 } }));
    expect(implicit.rope?.scaling).toMatchObject({ factor: 4 });
  });

  it.each([
    ['an unsupported rope type, by name', { rope_parameters: { rope_type: 'longrope', rope_theta: 1e4 } }, ['rope_type', 'longrope', 'supported: default, linear, dynamic, llama3, yarn']],
    ['a made-up rope type', { rope_scaling: { type: 'magic', factor: 2 } }, ['rope_scaling.rope_type', 'magic']],
    ['rope_theta 0', { rope_parameters: { rope_type: 'default', rope_theta: 0 } }, ['rope_parameters.rope_theta']],
    ['rope_theta -1 (top level)', { rope_parameters: undefined, rope_theta: -1 }, ['rope_theta', '-1']],
    ['rope_theta as a string', { rope_parameters: { rope_type: 'default', rope_theta: '1e4' } }, ['rope_theta']],
    ['a linear factor missing', { rope_parameters: { rope_type: 'linear', rope_theta: 1e4 } }, ['rope_parameters.factor is required']],
    ['a negative factor', { rope_parameters: { rope_type: 'dynamic', rope_theta: 1e4, factor: -2 } }, ['rope_parameters.factor']],
    ['llama3 high <= low', { rope_parameters: { rope_type: 'llama3', rope_theta: 1e4, factor: 8, low_freq_factor: 4, high_freq_factor: 1 } }, ['high_freq_factor']],
    ['a key another rope type uses', { rope_parameters: { rope_type: 'linear', rope_theta: 1e4, factor: 2, beta_fast: 32 } }, ['rope_parameters.beta_fast']],
    ['rope_theta in two places, different', { rope_theta: 1e6, rope_parameters: { rope_type: 'default', rope_theta: 1e4 } }, ['rope_theta (1000000) contradicts rope_parameters.rope_theta (10000)']],
    ['rope_scaling contradicting rope_parameters', { rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 1e4 }, rope_scaling: { rope_type: 'linear', factor: 4 } }, ['rope_scaling.factor (4) contradicts rope_parameters.factor (2)']],
    ['type and rope_type disagreeing', { rope_parameters: undefined, rope_scaling: { type: 'linear', rope_type: 'dynamic', factor: 2 } }, ['rope_type', 'contradicts']],
    ['partial rotary', { rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.5 } }, ['partial_rotary_factor']],
    ['per-layer rope_parameters', { rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e4 } } }, ['per-layer']],
    ['rope_parameters not an object', { rope_parameters: 'linear' }, ['rope_parameters must be an object']],
    // Found by the hostile-input suite (configs area): a negative beta gave NaN logits, silently.
    ['yarn beta_fast -1', { rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 2, beta_fast: -1 } }, ['rope_parameters.beta_fast must not be negative']],
    ['yarn beta_slow -1', { rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 2, beta_slow: -1 } }, ['rope_parameters.beta_slow must not be negative']],
    ['original_max_position_embeddings in two places, different', { original_max_position_embeddings: 32, rope_parameters: { rope_type: 'yarn', factor: 2, rope_theta: 1e4, original_max_position_embeddings: 16 } }, ['original_max_position_embeddings']],
  ])('refuses %s', (_name, overrides, keys) => {
    configError(llama(overrides), ...keys);
  });
});

describe('parseHfConfig: hostile values are ConfigErrors naming config.json and the key', () => {
  it.each([
    ['unknown model type', llama({ model_type: 'llama9' }), ['model_type', 'llama9']],
    ['no model type', { vocab_size: 3 }, ['model_type']],
    ['a JSON array', [1, 2], ['JSON object']],
    ['null', null, ['JSON object']],
    ['non-integer hidden_size', llama({ hidden_size: 32.5 }), ['hidden_size']],
    ['string num_hidden_layers', llama({ num_hidden_layers: '2' }), ['num_hidden_layers']],
    ['negative vocab_size', llama({ vocab_size: -1 }), ['vocab_size']],
    ['rms_norm_eps a string', llama({ rms_norm_eps: 'x' }), ['rms_norm_eps']],
    ['layer_norm_epsilon a string (gpt2)', gpt2({ layer_norm_epsilon: 'x' }), ['layer_norm_epsilon']],
    ['layer_norm_epsilon negative (gpt2)', gpt2({ layer_norm_epsilon: -1 }), ['layer_norm_epsilon']],
    ['eos_token_id [-5]', llama({ eos_token_id: [-5] }), ['eos_token_id', '[-5]']],
    ['eos_token_id past the vocabulary', llama({ eos_token_id: 96 }), ['eos_token_id']],
    ['pad_token_id 1.5', llama({ pad_token_id: 1.5 }), ['pad_token_id']],
    ['an empty eos list', llama({ eos_token_id: [] }), ['eos_token_id']],
    ['tie_word_embeddings "yes"', llama({ tie_word_embeddings: 'yes' }), ['tie_word_embeddings']],
    ['attention_bias 1', llama({ attention_bias: 1 }), ['attention_bias']],
    ['gelu in a Llama', llama({ hidden_act: 'gelu' }), ['hidden_act']],
    ['heads not a multiple of kv heads', llama({ num_key_value_heads: 3 }), ['num_key_value_heads']],
    ['odd head_dim', llama({ head_dim: 7 }), ['head_dim']],
    // Found by the hostile-input suite: a derived head_dim of 0 gave an untyped tfjs reshape error, and 1e6 heads of
    // an explicit head_dim a forward pass of minutes.
    ['more heads than hidden units', llama({ num_attention_heads: 1e6, num_key_value_heads: 1 }), ['num_attention_heads (1000000) is more than hidden_size (32): head_dim would be 0']],
    ['more heads than hidden units, explicit head_dim', llama({ model_type: 'qwen3', num_attention_heads: 1e6, num_key_value_heads: 1, head_dim: 4 }), ['num_attention_heads (1000000) is more than hidden_size (32)']],
    ['a Qwen sliding window', llama({ model_type: 'qwen2', use_sliding_window: true }), ['use_sliding_window']],
    ['n_embd not divisible by n_head', gpt2({ n_embd: 30 }), ['n_embd']],
    ['sliding-attention layers', llama({ model_type: 'qwen3', layer_types: ['full_attention', 'sliding_attention'] }), ['layer_types']],
  ])('%s', (_name, json, keys) => {
    configError(json, ...keys);
  });

  it('collects every problem of one file into one error', () => {
    const error = configError(llama({ rms_norm_eps: 'x', eos_token_id: [-5], rope_parameters: { rope_type: 'default', rope_theta: -1 } }));
    expect(error.problems).toHaveLength(3);
  });

  it('refuses n_layer 1e9 before allocating anything, naming the key (it used to run out of heap after 73 s)', () => {
    configError(gpt2({ n_layer: 1e9 }), 'n_layer', 'parameters', 'memory');
    configError(llama({ num_hidden_layers: 1e9 }), 'num_hidden_layers');
    configError(llama({ vocab_size: 1e12, hidden_size: 4096 }), 'vocab_size');
  });

  it('refuses 1e6 tiny layers (weights that fit in memory, ten million tfjs variables) at once, naming the key', () => {
    // Found by the hostile-input suite: loadCausalLM built 1e6 layers of specs before noticing missing tensors,
    // and createCausalLM (--from-scratch) allocated for minutes.
    configError(gpt2({ n_embd: 8, n_head: 2, vocab_size: 32, n_layer: 1e6 }), 'n_layer: 1000000 layers is more than the 1024');
    configError(llama({ num_hidden_layers: 100_000 }), 'num_hidden_layers: 100000 layers');
    expect(() => resolveModelConfig({ modelType: 'qwen2', vocabSize: 32, hiddenSize: 8, numLayers: 1e6, numHeads: 2 })).toThrow(/numLayers \(config.json num_hidden_layers: 1000000 layers/);
    expect(parseHfConfig(llama({ num_hidden_layers: 1024, hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 8 })).numLayers).toBe(1024);
  });

  it('refuses oversized models made from options (--from-scratch) with a ConfigError', () => {
    expect(() => resolveModelConfig({ modelType: 'llama', vocabSize: 96, hiddenSize: 32, numLayers: 1e9, numHeads: 4 })).toThrow(ConfigError);
    expect(() => resolveModelConfig({ modelType: 'qwen9' as 'llama', vocabSize: 96, hiddenSize: 32, numLayers: 2, numHeads: 4 })).toThrow(/modelType/);
    expect(() => resolveModelConfig({ modelType: 'llama', vocabSize: 96, hiddenSize: 32, numLayers: 2.5, numHeads: 4 })).toThrow(/numLayers \(config.json num_hidden_layers must be a positive integer/);
    expect(() => resolveModelConfig({ modelType: 'gpt2', vocabSize: 96, hiddenSize: 32, numLayers: 2, numHeads: 4, normEpsilon: 'x' as unknown as number })).toThrow(/normEpsilon/);
  });
});

describe('model size estimate', () => {
  const cases: Record<string, ModelConfig> = {
    gpt2: parseHfConfig(gpt2({ n_inner: 48, tie_word_embeddings: false })),
    llama: parseHfConfig(llama({ attention_bias: true, mlp_bias: true, tie_word_embeddings: true })),
    qwen2: parseHfConfig(llama({ model_type: 'qwen2' })),
    qwen3: parseHfConfig(llama({ model_type: 'qwen3', head_dim: 16, tie_word_embeddings: true })),
  };

  it.each(Object.keys(cases))('%s: the arithmetic count equals the parameters the model allocates', (name) => {
    const config = cases[name] as ModelConfig;
    const allocated = parameterSpecs(config).reduce(
      (sum, spec) =>
        sum + (spec.kind === 'tensor' ? spec.shape.reduce((a, b) => a * b, 1) : spec.inFeatures * spec.outFeatures + (spec.bias ? spec.outFeatures : 0)),
      0,
    );
    expect(estimateModelSize(config).parameterCount).toBe(allocated);
  });

  it('compares float32 bytes with the memory given', () => {
    const config = cases['llama'] as ModelConfig;
    const bytes = estimateModelSize(config).weightBytes;
    expect(modelSizeProblems(config, bytes)).toEqual([]);
    expect(modelSizeProblems(config, bytes - 1)[0]).toMatch(/num_hidden_layers|vocab_size/);
  });
});

describe('Qwen3, Llama 3.x and SmolLM2 configs', () => {
  it('Qwen3: explicit head_dim, q/k norm, no biases; head_dim 128 when absent (Qwen3Config default)', () => {
    const config = parseHfConfig(llama({ model_type: 'qwen3', head_dim: 16, tie_word_embeddings: true, attention_bias: false }));
    expect(config).toMatchObject({ family: 'llama', headDim: 16, queryKeyNorm: true, attentionBias: false, outputProjectionBias: false, tieWordEmbeddings: true });
    expect(parseHfConfig(llama({ model_type: 'qwen3', head_dim: undefined })).headDim).toBe(128);
    const names = parameterSpecs(config).map((spec) => (spec.kind === 'tensor' ? spec.name : spec.module));
    expect(names).toContain('model.layers.0.self_attn.q_norm.weight');
    expect(names).toContain('model.layers.1.self_attn.k_norm.weight');
  });

  it('Llama 3.2 config.json (transformers 4.x layout, eos list) and SmolLM2 config.json parse', () => {
    const llama32 = parseHfConfig(
      llama({
        rope_parameters: undefined,
        rope_theta: 500000.0,
        rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
        max_position_embeddings: 131072,
        tie_word_embeddings: true,
        head_dim: 8,
        eos_token_id: [2, 8, 9],
        mlp_bias: false,
        attention_bias: false,
        pretraining_tp: 1,
        torch_dtype: 'bfloat16',
      }),
    );
    expect(llama32.rope?.scaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(llama32.eosTokenId).toBe(2);
    const smol = parseHfConfig(llama({ rope_parameters: undefined, rope_theta: 100000, rope_scaling: null, tie_word_embeddings: true, is_llama_config: true, rope_interleaved: false }));
    expect(smol.rope?.theta).toBe(100000);
  });

  it('Llama attention_bias puts biases on q/k/v/o, mlp_bias on the MLP; Qwen2 only on q/k/v', () => {
    const biased = parameterSpecs(parseHfConfig(llama({ attention_bias: true, mlp_bias: true })));
    const biasOf = (specs: typeof biased, module: string): boolean => specs.some((spec) => spec.kind === 'linear' && spec.module === module && spec.bias);
    for (const module of ['self_attn.q_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.down_proj']) expect(biasOf(biased, `model.layers.0.${module}`)).toBe(true);
    const qwen2 = parameterSpecs(parseHfConfig(llama({ model_type: 'qwen2' })));
    expect(biasOf(qwen2, 'model.layers.0.self_attn.v_proj')).toBe(true);
    expect(biasOf(qwen2, 'model.layers.0.self_attn.o_proj')).toBe(false);
  });

  it('modelConfigOptionsOf recreates the same config (the --from-scratch path)', () => {
    const original = parseHfConfig(llama({ model_type: 'qwen3', head_dim: 16, rope_parameters: { rope_type: 'yarn', factor: 2, rope_theta: 1e6, original_max_position_embeddings: 32 } }));
    const recreated = resolveModelConfig(modelConfigOptionsOf(original));
    const { hfConfig: _a, ...left } = original;
    const { hfConfig: _b, ...right } = recreated;
    expect(right).toEqual(left);
    expect(recreated.hfConfig['rope_parameters']).toEqual(original.rope?.parameters);
    expect(recreated.hfConfig['rope_theta']).toBeUndefined();
  });
});
