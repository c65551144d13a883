import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  ConfigError,
  createCausalLM,
  loadCausalLM,
  modelConfigOptionsOf,
  parameterSpecs,
  parseHfConfig,
  resolveModelConfig,
  type CausalLM,
  type ModelConfigOptions,
  type ModelType,
} from '@rlhfjs/core';
import type { HostileArea, HostileCase } from '../hostile_area';
import { mutateJson, Random } from '../random';

// config.json as `loadCausalLM` reads it (with a tiny valid model.safetensors of the family beside it), and the
// `--from-scratch` file as `rlhfjs sft` hands it to `createCausalLM` (scratch.json: an HF config.json or
// ModelConfigOptions, where `{"$number": "NaN"}` stands for a number JSON cannot spell).

const CONFIG = 'config.json';
const WEIGHTS = 'model.safetensors';
const SCRATCH = 'scratch.json';
const FAMILIES: readonly ModelType[] = ['gpt2', 'llama', 'qwen2', 'qwen3', 'mistral'];
const VOCAB = 32;
/** Stands for a raw JSON token (NaN, Infinity, 1e309, ...) in a config built with JSON.stringify. */
const RAW = (token: string): string => `@@raw:${token}@@`;

/** The tiny valid model of each family, as ModelConfigOptions. */
function baseOptions(modelType: ModelType): ModelConfigOptions {
  const common = { modelType, vocabSize: VOCAB, hiddenSize: 8, numLayers: 2, numHeads: 2, maxPositions: 16, bosTokenId: 1, eosTokenId: 2 };
  switch (modelType) {
    case 'gpt2':
      return common;
    case 'qwen3':
      return { ...common, numKeyValueHeads: 1, headDim: 4, intermediateSize: 16 };
    default:
      return { ...common, numKeyValueHeads: 1, intermediateSize: 16 };
  }
}

/** The family's config.json, as transformers 4.x writes it (rope_theta at the top level for the Llama family). */
function baseConfig(modelType: ModelType): Record<string, unknown> {
  const hf: Record<string, unknown> = { ...resolveModelConfig(baseOptions(modelType)).hfConfig };
  if (modelType !== 'gpt2') {
    delete hf['rope_parameters'];
    hf['rope_theta'] = 10000;
  }
  return hf;
}

/** model.safetensors for the family's tiny model: every parameter in HF layout, F32, deterministic small values. */
function baseWeights(modelType: ModelType): Uint8Array {
  const entries: Array<[string, number[]]> = [];
  for (const spec of parameterSpecs(resolveModelConfig(baseOptions(modelType)))) {
    if (spec.kind === 'tensor') entries.push([spec.name, [...spec.shape]]);
    else {
      entries.push([`${spec.module}.weight`, spec.layout === 'linear' ? [spec.outFeatures, spec.inFeatures] : [spec.inFeatures, spec.outFeatures]]);
      if (spec.bias) entries.push([`${spec.module}.bias`, [spec.outFeatures]]);
    }
  }
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of entries) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const data = Buffer.alloc(offset);
  for (let i = 0; i < offset / 4; i += 1) data.writeFloatLE(0.05 * Math.sin(i * 0.7), i * 4);
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([prefix, headerBytes, data]);
}

function configText(config: unknown): string {
  return (JSON.stringify(config, null, 2) ?? 'null').replace(/"@@raw:([^@]*)@@"/g, '$1');
}

/** size: a required positive integer; optionalSize: one with a default when null; unused: a key the reader ignores. */
type KeyKind = 'size' | 'optionalSize' | 'float' | 'token' | 'theta' | 'unused';

function numericKeys(modelType: ModelType): Record<string, KeyKind> {
  const tokens: Record<string, KeyKind> = { bos_token_id: 'token', eos_token_id: 'token', pad_token_id: 'token' };
  if (modelType === 'gpt2') {
    // n_ctx is read only when n_positions is absent (as here it is present, any n_ctx is ignored): 'unused'.
    return { vocab_size: 'size', n_embd: 'size', n_layer: 'size', n_head: 'size', n_inner: 'optionalSize', n_positions: 'optionalSize', n_ctx: 'unused', layer_norm_epsilon: 'float', ...tokens };
  }
  return {
    vocab_size: 'size',
    hidden_size: 'size',
    num_hidden_layers: 'size',
    num_attention_heads: 'size',
    num_key_value_heads: 'optionalSize',
    ...(modelType === 'qwen3' ? {} : { head_dim: 'optionalSize' as const }),
    intermediate_size: 'size',
    max_position_embeddings: 'optionalSize',
    rms_norm_eps: 'float',
    rope_theta: 'theta',
    ...tokens,
  };
}

/** Hostile values for a key of each kind; `null` is a default (so either) for optional keys and floats. */
function hostileValues(kind: KeyKind): Array<[unknown, 'refuse' | 'either']> {
  const common: Array<[unknown, 'refuse' | 'either']> = [
    [-1, 'refuse'],
    ['8', 'refuse'],
    [true, 'refuse'],
    [[kind === 'token' ? VOCAB + 8 : 8], 'refuse'],
    [{}, 'refuse'],
    [RAW('NaN'), 'refuse'],
    [RAW('Infinity'), 'refuse'],
    [RAW('-1e309'), 'refuse'],
  ];
  switch (kind) {
    case 'size':
    case 'optionalSize':
      return [...common, [0, 'refuse'], [1.5, 'refuse'], [RAW('-0'), 'refuse'], [2 ** 53 + 2, 'refuse'], [1e308, 'refuse'], [RAW('1e309'), 'refuse'], [null, kind === 'size' ? 'refuse' : 'either']];
    case 'float':
      return [...common, [0, 'refuse'], [RAW('1e309'), 'refuse'], ['x', 'refuse'], [1.5, 'either'], [null, 'either']];
    case 'theta':
      return [...common, [0, 'refuse'], [1, 'refuse'], [RAW('1e309'), 'refuse'], [1.5, 'either'], [null, 'either']];
    case 'unused':
      return [...common.map(([value]): [unknown, 'either'] => [value, 'either']), [0, 'either'], [null, 'either']];
    case 'token':
      return [...common, [[-5], 'refuse'], [VOCAB, 'refuse'], [2 ** 31, 'refuse'], [1.5, 'refuse'], [[], 'refuse'], [[2, 'x'], 'refuse'], [[2, 3], 'either'], [null, 'either']];
    default: {
      const unreachable: never = kind;
      return unreachable;
    }
  }
}

function familyCases(modelType: ModelType): HostileCase[] {
  const config = baseConfig(modelType);
  const weights = baseWeights(modelType);
  const gpt2 = modelType === 'gpt2';
  const key = (llamaKey: string, gpt2Key: string): string => (gpt2 ? gpt2Key : llamaKey);
  const make = (name: string, expect: HostileCase['expect'], patch: Record<string, unknown>, drop: readonly string[] = []): HostileCase => {
    const value: Record<string, unknown> = { ...config, ...patch };
    for (const dropped of drop) delete value[dropped];
    return { name: `${modelType}: ${name}`, expect, files: { [CONFIG]: configText(value), [WEIGHTS]: weights } };
  };
  const cases: HostileCase[] = [
    make('valid control', 'accept', {}),
    make('valid, eos_token_id a list', 'accept', { eos_token_id: [2, 3] }),
    make(`${key('num_hidden_layers', 'n_layer')} 1e9`, 'refuse', { [key('num_hidden_layers', 'n_layer')]: 1e9 }),
    make(`${key('num_hidden_layers', 'n_layer')} 1e6`, 'refuse', { [key('num_hidden_layers', 'n_layer')]: 1e6 }),
    make(`${key('num_hidden_layers', 'n_layer')} 100000`, 'refuse', { [key('num_hidden_layers', 'n_layer')]: 100_000 }),
    make(`${key('hidden_size', 'n_embd')} 1e7`, 'refuse', { [key('hidden_size', 'n_embd')]: 1e7 }),
    make(`${key('hidden_size', 'n_embd')} 1e7 with as many heads`, 'refuse', { [key('hidden_size', 'n_embd')]: 1e7, [key('num_attention_heads', 'n_head')]: 5e6, ...(gpt2 ? {} : { num_key_value_heads: 5e6 }) }),
    make('vocab_size 1e9', 'refuse', { vocab_size: 1e9 }),
    make(`${key('intermediate_size', 'n_inner')} 1e10`, 'refuse', { [key('intermediate_size', 'n_inner')]: 1e10 }),
    make(`${key('num_attention_heads', 'n_head')} 1e6`, 'refuse', { [key('num_attention_heads', 'n_head')]: 1e6 }),
    make(`${key('max_position_embeddings', 'n_positions')} 1e9`, gpt2 ? 'refuse' : 'either', { [key('max_position_embeddings', 'n_positions')]: 1e9 }),
    make(`${key('hidden_size', 'n_embd')} 16: the weights do not match`, 'refuse', { [key('hidden_size', 'n_embd')]: 16 }),
    make(`${key('num_hidden_layers', 'n_layer')} 3: a layer missing from the weights`, 'refuse', { [key('num_hidden_layers', 'n_layer')]: 3 }),
    make('vocab_size 31: the weights do not match', 'refuse', { vocab_size: 31 }),
    { name: `${modelType}: no model.safetensors`, expect: 'refuse', files: { [CONFIG]: configText(config) } },
    make('model_type missing', 'refuse', {}, ['model_type']),
    make(`required ${key('hidden_size', 'n_embd')} missing`, 'refuse', {}, [key('hidden_size', 'n_embd')]),
    make('tie_word_embeddings "true"', 'refuse', { tie_word_embeddings: 'true' }),
    make(gpt2 ? 'activation_function relu' : 'hidden_act gelu', 'refuse', gpt2 ? { activation_function: 'relu' } : { hidden_act: 'gelu' }),
  ];
  for (const [name, kind] of Object.entries(numericKeys(modelType))) {
    for (const [value, expect] of hostileValues(kind)) cases.push(make(`${name} ${typeof value === 'string' ? value.replace(/@@(raw:)?/g, '') : JSON.stringify(value)}`, expect, { [name]: value }));
  }
  if (gpt2) {
    cases.push(make('n_embd not divisible by n_head', 'refuse', { n_head: 3 }));
  } else {
    cases.push(
      make('num_attention_heads not a multiple of num_key_value_heads', 'refuse', { num_attention_heads: 2, num_key_value_heads: 3 }),
      make('head_dim odd', 'refuse', { head_dim: 3, hidden_size: 9, num_attention_heads: 3, num_key_value_heads: 1 }),
      make('attention_bias 1', modelType === 'llama' || modelType === 'qwen3' ? 'refuse' : 'either', { attention_bias: 1 }),
      make('layer_types sliding_attention', 'refuse', { layer_types: ['sliding_attention', 'full_attention'] }),
      ...ropeCases(modelType, make),
    );
    if (modelType === 'qwen2' || modelType === 'qwen3') cases.push(make('use_sliding_window true', 'refuse', { use_sliding_window: true }));
    if (modelType === 'llama') cases.push(make('mlp_bias "no"', 'refuse', { mlp_bias: 'no' }));
  }
  return cases;
}

type Make = (name: string, expect: HostileCase['expect'], patch: Record<string, unknown>, drop?: readonly string[]) => HostileCase;

/** Every rope type with missing, extra and contradictory keys, in both `rope_scaling` and `rope_parameters`. */
function ropeCases(modelType: ModelType, make: Make): HostileCase[] {
  const valid: Record<string, Record<string, unknown>> = {
    default: { rope_type: 'default' },
    linear: { rope_type: 'linear', factor: 2 },
    dynamic: { rope_type: 'dynamic', factor: 2 },
    llama3: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8 },
    yarn: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 8, beta_fast: 32, beta_slow: 1 },
  };
  const cases: HostileCase[] = [];
  const required: Record<string, readonly string[]> = {
    default: [],
    linear: ['factor'],
    dynamic: ['factor'],
    // original_max_position_embeddings defaults to max_position_embeddings (transformers 5's standardize_rope_params).
    llama3: ['factor', 'low_freq_factor', 'high_freq_factor'],
    yarn: ['factor'],
  };
  for (const [type, parameters] of Object.entries(valid)) {
    cases.push(make(`rope_scaling ${type}, valid`, 'accept', { rope_scaling: parameters }));
    cases.push(make(`rope_parameters ${type}, valid`, 'accept', { rope_parameters: { ...parameters, rope_theta: 10000 } }, ['rope_theta']));
    cases.push(make(`rope_scaling ${type}, legacy "type" key`, 'accept', { rope_scaling: { ...parameters, rope_type: undefined, type } }));
    for (const missing of required[type] ?? []) {
      const without = { ...parameters };
      delete without[missing];
      cases.push(make(`rope_scaling ${type} without ${missing}`, 'refuse', { rope_scaling: without }));
    }
    cases.push(make(`rope_scaling ${type} with an unknown key`, 'refuse', { rope_scaling: { ...parameters, alpha: 3 } }));
    cases.push(make(`rope_scaling ${type} with type contradicting rope_type`, 'refuse', { rope_scaling: { ...parameters, type: type === 'linear' ? 'dynamic' : 'linear' } }));
    cases.push(make(`rope_parameters ${type} with rope_theta contradicting the top level`, 'refuse', { rope_parameters: { ...parameters, rope_theta: 500000 } }));
    for (const numeric of Object.keys(parameters).filter((name) => name !== 'rope_type')) {
      for (const bad of [-1, 'x', null, RAW('NaN'), [1]]) {
        // A null factor of yarn means max_position_embeddings / original_max_position_embeddings (transformers).
        const expect = bad === null && (!(required[type] ?? []).includes(numeric) || (type === 'yarn' && numeric === 'factor')) ? 'either' : 'refuse';
        cases.push(make(`rope_scaling ${type} ${numeric} ${JSON.stringify(bad)}`, expect, { rope_scaling: { ...parameters, [numeric]: bad } }));
      }
    }
  }
  cases.push(
    make('rope_scaling llama3 high_freq_factor below low_freq_factor', 'refuse', { rope_scaling: { ...valid['llama3'], low_freq_factor: 4, high_freq_factor: 1 } }),
    make('rope_scaling llama3 original_max_position_embeddings 1.5', 'refuse', { rope_scaling: { ...valid['llama3'], original_max_position_embeddings: 1.5 } }),
    make('rope_scaling yarn attention_factor -1', 'refuse', { rope_scaling: { ...valid['yarn'], attention_factor: -1 } }),
    make('rope_scaling yarn truncate "yes"', 'refuse', { rope_scaling: { ...valid['yarn'], truncate: 'yes' } }),
    make('rope_scaling yarn original_max_position_embeddings contradicts the top level', 'refuse', { rope_scaling: valid['yarn'], original_max_position_embeddings: 4 }),
    make('rope_scaling and rope_parameters disagree on factor', 'refuse', { rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 10000 }, rope_scaling: { rope_type: 'linear', factor: 4 } }, ['rope_theta']),
    make('rope type longrope (unsupported)', 'refuse', { rope_scaling: { rope_type: 'longrope', short_factor: [1], long_factor: [1] } }),
    make('rope type "LINEAR"', 'refuse', { rope_scaling: { rope_type: 'LINEAR', factor: 2 } }),
    make('rope type 5', 'refuse', { rope_scaling: { rope_type: 5, factor: 2 } }),
    make('rope_scaling a string', 'refuse', { rope_scaling: 'linear' }),
    make('rope_scaling an array', 'refuse', { rope_scaling: [{ rope_type: 'linear', factor: 2 }] }),
    make('rope_parameters per layer type', 'refuse', { rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 10000 } } }),
    make('partial_rotary_factor 0.5', 'refuse', { partial_rotary_factor: 0.5 }),
    make('rope_parameters nested 10000 deep', 'refuse', { rope_parameters: RAW(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`) }),
  );
  return cases;
}

function wholeFileCases(): HostileCase[] {
  const config = baseConfig('llama');
  const weights = baseWeights('llama');
  const text = configText(config);
  const file = (name: string, expect: HostileCase['expect'], content: string | Uint8Array): HostileCase => ({ name, expect, files: { [CONFIG]: content, [WEIGHTS]: weights } });
  return [
    file('config.json null', 'refuse', 'null'),
    file('config.json an array', 'refuse', '[]'),
    file('config.json a string', 'refuse', '"llama"'),
    file('config.json a number', 'refuse', '5'),
    file('config.json true', 'refuse', 'true'),
    file('config.json {}', 'refuse', '{}'),
    file('config.json empty', 'refuse', ''),
    file('config.json whitespace', 'refuse', '   \n'),
    file('config.json truncated in half', 'refuse', text.slice(0, Math.floor(text.length / 2))),
    file('config.json truncated by one byte', 'refuse', text.slice(0, -1)),
    file('config.json with a trailing comma', 'refuse', text.replace(/\n}$/, ',\n}')),
    file('config.json with comments', 'refuse', `// llama\n${text}`),
    file('config.json not UTF-8', 'refuse', Buffer.concat([Buffer.from('{"model_type": "llama", "x": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])),
    file('config.json a NUL byte', 'refuse', `\u0000${text}`),
    file('config.json two objects', 'refuse', `${text}${text}`),
    file('config.json 64 MB of spaces, then an object', 'either', `${' '.repeat(64 * 2 ** 20)}${text}`),
    file('config.json with a 32 MB string', 'either', configText({ ...config, note: 'x'.repeat(32 * 2 ** 20) })),
    file('config.json with 1e6 architectures', 'either', configText({ ...config, architectures: new Array(1_000_000).fill('LlamaForCausalLM') })),
    file('config.json nested 100000 deep (unknown key)', 'either', text.replace(/^{/, `{"deep": ${'['.repeat(100_000)}${']'.repeat(100_000)},`)),
    file('config.json nested 100000 deep (top level)', 'refuse', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    file('model_type "gpt3"', 'refuse', configText({ ...config, model_type: 'gpt3' })),
    file('model_type "LLAMA"', 'refuse', configText({ ...config, model_type: 'LLAMA' })),
    file('model_type "llama "', 'refuse', configText({ ...config, model_type: 'llama ' })),
    file('model_type ""', 'refuse', configText({ ...config, model_type: '' })),
    file('model_type null', 'refuse', configText({ ...config, model_type: null })),
    file('model_type 5', 'refuse', configText({ ...config, model_type: 5 })),
    file('model_type ["llama"]', 'refuse', configText({ ...config, model_type: ['llama'] })),
    file('model_type "__proto__"', 'refuse', configText({ ...config, model_type: '__proto__' })),
    file('model_type "constructor"', 'refuse', configText({ ...config, model_type: 'constructor' })),
    file('everything under "__proto__"', 'refuse', `{"__proto__": ${text}}`),
    file('duplicate key: the last num_hidden_layers 1e9', 'refuse', text.replace(/^{/, '{"num_hidden_layers": 2,').replace(/\n}$/, ',\n"num_hidden_layers": 1e9\n}')),
    file('a GPT-2 config under model_type llama', 'refuse', configText({ ...baseConfig('gpt2'), model_type: 'llama' })),
  ];
}

/** `--from-scratch` files for `createCausalLM`: ModelConfigOptions (camelCase) or an HF config.json. */
function scratchCases(): HostileCase[] {
  const scratch = (name: string, expect: HostileCase['expect'], value: unknown): HostileCase => ({ name: `from scratch: ${name}`, expect, files: { [SCRATCH]: JSON.stringify(value) ?? 'null' } });
  const number = (text: string): unknown => ({ $number: text });
  const cases: HostileCase[] = [];
  for (const modelType of FAMILIES) {
    const options = baseOptions(modelType);
    cases.push(scratch(`${modelType} options, valid`, 'accept', options), scratch(`${modelType} config.json, valid`, 'accept', baseConfig(modelType)));
    for (const [field, value, expect] of [
      ['numLayers', 1e9],
      ['numLayers', 1e6],
      ['numLayers', 100_000],
      ['hiddenSize', 1e7],
      ['vocabSize', 1e9],
      // No tensor is sized by it in the Llama family (rotary is computed per position), so it may stay valid.
      ['maxPositions', 2 ** 31, modelType === 'gpt2' ? 'refuse' : 'either'],
      ['intermediateSize', 1e10],
      ['numHeads', 1e6],
      ['numLayers', number('NaN')],
      ['hiddenSize', number('Infinity')],
      ['vocabSize', -1],
      ['numHeads', 1.5],
      ['numLayers', '2'],
      ['numLayers', null],
      ['normEpsilon', number('NaN')],
      ['normEpsilon', -1],
      ['eosTokenId', number('NaN')],
      ['eosTokenId', VOCAB],
      ['bosTokenId', -5],
      ['padTokenId', 1.5],
      ['tieWordEmbeddings', 'yes'],
      ...(modelType === 'gpt2'
        ? []
        : ([
            ['ropeTheta', number('NaN')],
            ['ropeTheta', -1],
            ['ropeScaling', { rope_type: 'linear' }],
            ['ropeScaling', { rope_type: 'llama3', factor: 8 }],
            ['ropeParameters', { rope_type: 'yarn', factor: -2, rope_theta: 10000 }],
            ['ropeParameters', 'default'],
            ['numKeyValueHeads', 3],
            ['headDim', 1e9],
          ] as Array<[string, unknown]>)),
    ] as Array<[string, unknown, HostileCase['expect']?]>) {
      cases.push(scratch(`${modelType} ${field} ${JSON.stringify(value)}`, expect ?? 'refuse', { ...options, ...(field === 'hiddenSize' ? { headDim: undefined } : {}), [field]: value }));
    }
    const hf = baseConfig(modelType);
    const layers = modelType === 'gpt2' ? 'n_layer' : 'num_hidden_layers';
    const hidden = modelType === 'gpt2' ? 'n_embd' : 'hidden_size';
    cases.push(
      scratch(`${modelType} config.json ${layers} 1e9`, 'refuse', { ...hf, [layers]: 1e9 }),
      scratch(`${modelType} config.json ${layers} 1e6`, 'refuse', { ...hf, [layers]: 1e6 }),
      scratch(`${modelType} config.json ${hidden} 1e7`, 'refuse', { ...hf, head_dim: undefined, [hidden]: 1e7 }),
      scratch(`${modelType} config.json ${hidden} 1e5, 2 layers (over 4 GB)`, 'refuse', { ...hf, [hidden]: 100_000, ...(modelType === 'gpt2' ? { n_inner: 100_000 } : { intermediate_size: 100_000, head_dim: 4 }) }),
    );
  }
  cases.push(
    scratch('modelType missing', 'refuse', { vocabSize: VOCAB, hiddenSize: 8, numLayers: 2, numHeads: 2 }),
    scratch('modelType "gpt3"', 'refuse', { ...baseOptions('gpt2'), modelType: 'gpt3' }),
    scratch('modelType "__proto__"', 'refuse', { ...baseOptions('gpt2'), modelType: '__proto__' }),
    scratch('options {}', 'refuse', {}),
    scratch('options null', 'refuse', null),
    scratch('options an array', 'refuse', [baseOptions('gpt2')]),
  );
  return cases;
}

function mutatedCases(seed: number, perFamily: number): HostileCase[] {
  const random = new Random(seed);
  const cases: HostileCase[] = [];
  for (const modelType of FAMILIES) {
    const config = baseConfig(modelType);
    const weights = baseWeights(modelType);
    for (let index = 0; index < perFamily; index += 1) {
      const { value, path } = mutateJson(config, random);
      cases.push({ name: `${modelType} mutated: ${path} replaced`, expect: 'either', files: { [CONFIG]: configText(value), [WEIGHTS]: weights } });
    }
  }
  return cases;
}

/**
 * An independent reading of an accepted config.json: what our parser should have refused, or read differently.
 * Mirrors transformers' meaning of each key (sizes positive integers, ids in the vocabulary, null = default).
 */
function independentProblems(hf: Record<string, unknown>, model: CausalLM): string[] {
  const problems: string[] = [];
  const config = model.config;
  const gpt2 = hf['model_type'] === 'gpt2';
  const expected: Record<string, [unknown, unknown]> = gpt2
    ? {
        vocab_size: [hf['vocab_size'], config.vocabSize],
        n_embd: [hf['n_embd'], config.hiddenSize],
        n_layer: [hf['n_layer'], config.numLayers],
        n_head: [hf['n_head'], config.numHeads],
        n_inner: [hf['n_inner'] ?? 4 * (hf['n_embd'] as number), config.intermediateSize],
        n_positions: [hf['n_positions'] ?? hf['n_ctx'], config.maxPositions],
        layer_norm_epsilon: [hf['layer_norm_epsilon'] ?? 1e-5, config.normEpsilon],
      }
    : {
        vocab_size: [hf['vocab_size'], config.vocabSize],
        hidden_size: [hf['hidden_size'], config.hiddenSize],
        num_hidden_layers: [hf['num_hidden_layers'], config.numLayers],
        num_attention_heads: [hf['num_attention_heads'], config.numHeads],
        num_key_value_heads: [hf['num_key_value_heads'] ?? hf['num_attention_heads'], config.numKeyValueHeads],
        intermediate_size: [hf['intermediate_size'], config.intermediateSize],
        max_position_embeddings: [hf['max_position_embeddings'] ?? 2048, config.maxPositions],
        rms_norm_eps: [hf['rms_norm_eps'] ?? 1e-6, config.normEpsilon],
      };
  for (const [name, [inFile, read]] of Object.entries(expected)) {
    if (inFile !== read) problems.push(`${name}: the file says ${JSON.stringify(inFile)}, the model has ${JSON.stringify(read)}`);
  }
  for (const name of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
    const value = hf[name];
    if (value === undefined || value === null) continue;
    const ids = Array.isArray(value) ? value : [value];
    if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || (id as number) < 0 || (id as number) >= config.vocabSize)) problems.push(`${name} ${JSON.stringify(value)} accepted`);
  }
  if (!gpt2) {
    const theta = (hf['rope_parameters'] as Record<string, unknown> | undefined)?.['rope_theta'] ?? hf['rope_theta'] ?? 10000;
    if (config.rope === null || config.rope.theta !== theta) problems.push(`rope_theta: the file says ${JSON.stringify(theta)}, the model has ${JSON.stringify(config.rope?.theta)}`);
  }
  return problems;
}

/** One forward pass of 4 tokens: logits [1, T, V] and finite, no tensor left behind. */
function forwardProblems(model: CausalLM): string[] {
  const before = tf.memory().numTensors;
  const length = Math.min(4, model.config.maxPositions);
  const logits = tf.tidy((): tf.Tensor => {
    const inputIds = tf.tensor2d([Array.from({ length }, (_, i) => i % model.config.vocabSize)], [1, length], 'int32'); // [1, T]
    return model.forward({ inputIds }).logits ?? tf.zeros([0]);
  });
  const problems: string[] = [];
  const expected = [1, length, model.config.vocabSize];
  if (JSON.stringify(logits.shape) !== JSON.stringify(expected)) problems.push(`logits are [${logits.shape}], expected [${expected}]`);
  if (!(logits.dataSync() as Float32Array).every(Number.isFinite)) problems.push('logits are not finite');
  logits.dispose();
  if (tf.memory().numTensors !== before) problems.push(`forward left ${tf.memory().numTensors - before} tensors behind`);
  return problems;
}

function reviveNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { $number?: unknown }).$number === 'string') {
    return Number((value as { $number: string }).$number);
  }
  return value;
}

async function attemptOnce(directory: string): Promise<string[]> {
  let model: CausalLM;
  let hf: Record<string, unknown> | null = null;
  const scratchPath = join(directory, SCRATCH);
  if (existsSync(scratchPath)) {
    // As `rlhfjs sft --from-scratch` does: an HF config.json goes through parseHfConfig, options go straight in.
    const json = JSON.parse(readFileSync(scratchPath, 'utf8'), reviveNumbers) as unknown;
    if (typeof json === 'object' && json !== null && !Array.isArray(json) && 'model_type' in json) {
      hf = json as Record<string, unknown>;
      model = createCausalLM(modelConfigOptionsOf(parseHfConfig(json, scratchPath)), { seed: 1 });
    } else {
      model = createCausalLM(json as ModelConfigOptions, { seed: 1 });
    }
  } else {
    model = await loadCausalLM(directory);
    hf = JSON.parse(readFileSync(join(directory, CONFIG), 'utf8')) as Record<string, unknown>;
  }
  try {
    return [...(hf === null ? [] : independentProblems(hf, model)), ...forwardProblems(model)];
  } finally {
    model.dispose();
  }
}

export const configsArea: HostileArea = {
  name: 'configs',
  cases: (seed) => [...FAMILIES.flatMap((modelType) => familyCases(modelType)), ...wholeFileCases(), ...scratchCases(), ...mutatedCases(seed, 40)],
  async attempt(directory) {
    try {
      return await attemptOnce(directory);
    } catch (error) {
      // A config problem must be a ConfigError or CheckpointError; any other error (even a typed one) is a crash.
      if (error instanceof ConfigError || error instanceof CheckpointError) throw error;
      const wrapped = new Error(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      wrapped.name = error instanceof Error ? `untyped ${error.name}` : 'untyped';
      throw wrapped;
    }
  },
};
