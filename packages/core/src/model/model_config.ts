import { ConfigError } from '../errors/errors';
import { modelSizeProblems } from './model_size';
import { parseRopeConfig, type RopeConfig } from './rope_config';

export type ModelFamily = 'gpt2' | 'llama';
export type ModelType = 'gpt2' | 'llama' | 'qwen2' | 'qwen3' | 'mistral';
export type { RopeConfig, RopeScaling, RopeType } from './rope_config';

/** A decoder-only transformer, normalised from a Hugging Face `config.json`. */
export interface ModelConfig {
  readonly modelType: ModelType;
  readonly family: ModelFamily;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
  readonly normEpsilon: number;
  /** Null for GPT-2 (learned absolute positions). */
  readonly rope: RopeConfig | null;
  /** q/k/v projections carry biases (Qwen2; Llama/Qwen3 `attention_bias`; GPT-2's fused c_attn always does). */
  readonly attentionBias: boolean;
  /** o_proj carries a bias (Llama/Qwen3 `attention_bias`; not Qwen2). */
  readonly outputProjectionBias: boolean;
  /** gate/up/down projections carry biases (Llama `mlp_bias`). */
  readonly mlpBias: boolean;
  /** Per-head RMSNorm of queries and keys before rotary (Qwen3's q_norm / k_norm). */
  readonly queryKeyNorm: boolean;
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** The config.json this came from, kept so that saving writes back every field we do not model. */
  readonly hfConfig: Readonly<Record<string, unknown>>;
}

/** The fields `createCausalLM` needs; everything else has the family's defaults. */
export interface ModelConfigOptions {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKeyValueHeads?: number;
  /** Default hiddenSize / numHeads. */
  headDim?: number;
  intermediateSize?: number;
  maxPositions?: number;
  normEpsilon?: number;
  /** transformers 5's `rope_parameters` (`{rope_type, rope_theta, factor, ...}`). */
  ropeParameters?: Record<string, unknown> | null;
  /** Older form: top-level `rope_theta` ... */
  ropeTheta?: number;
  /** ... and `rope_scaling` (`{type | rope_type, factor, ...}`). */
  ropeScaling?: Readonly<Record<string, unknown>> | null;
  /** Llama/Qwen3 `attention_bias` (q/k/v/o biases); Qwen2 always has q/k/v biases. */
  attentionBias?: boolean;
  /** Llama `mlp_bias`. */
  mlpBias?: boolean;
  tieWordEmbeddings?: boolean;
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  padTokenId?: number | null;
}

function familyOf(modelType: ModelType): ModelFamily {
  switch (modelType) {
    case 'gpt2':
      return 'gpt2';
    case 'llama':
    case 'qwen2':
    case 'qwen3':
    case 'mistral':
      return 'llama';
    default: {
      const unreachable: never = modelType;
      return unreachable;
    }
  }
}

export const SUPPORTED_MODEL_TYPES: readonly ModelType[] = ['gpt2', 'llama', 'qwen2', 'qwen3', 'mistral'];

const ARCHITECTURES: Record<ModelType, string> = {
  gpt2: 'GPT2LMHeadModel',
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  mistral: 'MistralForCausalLM',
};

/** Reads typed values out of a config.json object, collecting one problem per bad key. */
class ConfigReader {
  readonly problems: string[] = [];

  constructor(private readonly hf: Readonly<Record<string, unknown>>) {}

  has(key: string): boolean {
    return this.hf[key] !== undefined && this.hf[key] !== null;
  }

  positiveInteger(key: string, fallback?: number): number {
    const value = this.hf[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      this.problems.push(`${key} must be a positive integer, got ${JSON.stringify(value)}`);
      return 1;
    }
    return value;
  }

  positiveNumber(key: string, fallback: number): number {
    const value = this.hf[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.problems.push(`${key} must be a positive number, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.hf[key] ?? fallback;
    if (typeof value !== 'boolean') {
      this.problems.push(`${key} must be true or false, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  /** A token id in [0, vocab); `eos_token_id` may be a list (Llama 3), whose first entry is the id we keep. */
  tokenId(key: string, vocabSize: number): number | null {
    const value = this.hf[key];
    if (value === undefined || value === null) return null;
    const ids = Array.isArray(value) ? value : [value];
    const bad = ids.find((id) => typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= vocabSize);
    if (ids.length === 0 || bad !== undefined) {
      this.problems.push(`${key} must be a token id in [0, ${vocabSize}) or a non-empty list of them, got ${JSON.stringify(value)}`);
      return null;
    }
    return ids[0] as number;
  }

  oneOf(key: string, allowed: readonly unknown[], fallback: unknown): void {
    const value = this.hf[key] ?? fallback;
    if (!allowed.includes(value)) this.problems.push(`${key} ${JSON.stringify(value)} is not supported (supported: ${allowed.map((v) => JSON.stringify(v)).join(', ')})`);
  }
}

/**
 * Reads a Hugging Face `config.json` object (transformers 4.x or 5 layout). Every problem is collected into one
 * `ConfigError` that names `source` and each offending key; the parameter count and float32 memory are checked
 * against this machine's memory before the caller allocates anything.
 */
export function parseHfConfig(json: unknown, source = 'config.json'): ModelConfig {
  const where = `parseHfConfig: ${source}`;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(where, [`must hold a JSON object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`]);
  }
  const hf = json as Record<string, unknown>;
  const modelType = hf['model_type'];
  if (typeof modelType !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(where, [`model_type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`]);
  }
  const type = modelType as ModelType;
  const family = familyOf(type);
  const read = new ConfigReader(hf);
  const problems = read.problems;
  let config: ModelConfig;
  if (family === 'gpt2') {
    const hiddenSize = read.positiveInteger('n_embd');
    const numHeads = read.positiveInteger('n_head');
    const vocabSize = read.positiveInteger('vocab_size');
    read.oneOf('activation_function', ['gelu_new'], 'gelu_new');
    if (hiddenSize % numHeads !== 0) problems.push(`n_embd (${hiddenSize}) must be divisible by n_head (${numHeads})`);
    config = {
      modelType: type,
      family,
      vocabSize,
      hiddenSize,
      numLayers: read.positiveInteger('n_layer'),
      numHeads,
      numKeyValueHeads: numHeads,
      headDim: Math.floor(hiddenSize / numHeads),
      intermediateSize: read.has('n_inner') ? read.positiveInteger('n_inner') : 4 * hiddenSize,
      maxPositions: read.has('n_positions') ? read.positiveInteger('n_positions') : read.positiveInteger('n_ctx'),
      normEpsilon: read.positiveNumber('layer_norm_epsilon', 1e-5),
      rope: null,
      attentionBias: true,
      outputProjectionBias: true,
      mlpBias: true,
      queryKeyNorm: false,
      tieWordEmbeddings: read.boolean('tie_word_embeddings', true),
      bosTokenId: read.tokenId('bos_token_id', vocabSize),
      eosTokenId: read.tokenId('eos_token_id', vocabSize),
      padTokenId: read.tokenId('pad_token_id', vocabSize),
      hfConfig: Object.freeze({ ...hf }),
    };
  } else {
    const hiddenSize = read.positiveInteger('hidden_size');
    const numHeads = read.positiveInteger('num_attention_heads');
    const vocabSize = read.positiveInteger('vocab_size');
    const numKeyValueHeads = read.has('num_key_value_heads') ? read.positiveInteger('num_key_value_heads') : numHeads;
    // Qwen3Config defaults head_dim to 128; the others derive it from the hidden size.
    const headDim = read.has('head_dim') ? read.positiveInteger('head_dim') : type === 'qwen3' ? 128 : Math.floor(hiddenSize / numHeads);
    const maxPositions = read.positiveInteger('max_position_embeddings', 2048);
    read.oneOf('hidden_act', ['silu'], 'silu');
    if (type === 'qwen2' || type === 'qwen3') read.oneOf('use_sliding_window', [false], false);
    const layerTypes = hf['layer_types'];
    if (layerTypes !== undefined && layerTypes !== null && (!Array.isArray(layerTypes) || layerTypes.some((layerType) => layerType !== 'full_attention'))) {
      problems.push(`layer_types ${JSON.stringify(layerTypes)} is not supported (only "full_attention" layers)`);
    }
    if (numHeads % numKeyValueHeads !== 0) {
      problems.push(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`);
    }
    // No published model has more heads than hidden units; with head_dim derived it would be 0, and with an explicit
    // one the attention of 1e6 tiny heads runs for minutes.
    if (numHeads > hiddenSize) problems.push(`num_attention_heads (${numHeads}) is more than hidden_size (${hiddenSize})${read.has('head_dim') ? '' : ': head_dim would be 0'}`);
    else if (headDim % 2 !== 0) problems.push(`head_dim (${headDim}) must be even for rotary embeddings`);
    // Qwen2 always has q/k/v biases and never an o_proj bias; Llama and Qwen3 put `attention_bias` on all four.
    const attentionBiasKey = type === 'mistral' || type === 'qwen2' ? null : read.boolean('attention_bias', false);
    const mlpBias = type === 'llama' ? read.boolean('mlp_bias', false) : false;
    const rope = parseRopeConfig(hf, { maxPositions, headDim, defaultTheta: 10000 }, problems);
    config = {
      modelType: type,
      family,
      vocabSize,
      hiddenSize,
      numLayers: read.positiveInteger('num_hidden_layers'),
      numHeads,
      numKeyValueHeads,
      headDim,
      intermediateSize: read.positiveInteger('intermediate_size'),
      maxPositions,
      normEpsilon: read.positiveNumber('rms_norm_eps', 1e-6),
      rope,
      attentionBias: type === 'qwen2' || attentionBiasKey === true,
      outputProjectionBias: attentionBiasKey === true,
      mlpBias,
      queryKeyNorm: type === 'qwen3',
      tieWordEmbeddings: read.boolean('tie_word_embeddings', false),
      bosTokenId: read.tokenId('bos_token_id', vocabSize),
      eosTokenId: read.tokenId('eos_token_id', vocabSize),
      padTokenId: read.tokenId('pad_token_id', vocabSize),
      hfConfig: Object.freeze({ ...hf }),
    };
  }
  if (problems.length === 0) problems.push(...modelSizeProblems(config));
  if (problems.length > 0) throw new ConfigError(where, problems);
  return Object.freeze(config);
}

/** config.json keys written from each `ModelConfigOptions` field, for error messages. */
const OPTION_OF_KEY: Record<string, string> = {
  vocab_size: 'vocabSize',
  n_embd: 'hiddenSize',
  hidden_size: 'hiddenSize',
  n_layer: 'numLayers',
  num_hidden_layers: 'numLayers',
  n_head: 'numHeads',
  num_attention_heads: 'numHeads',
  num_key_value_heads: 'numKeyValueHeads',
  head_dim: 'headDim',
  n_inner: 'intermediateSize',
  intermediate_size: 'intermediateSize',
  n_positions: 'maxPositions',
  max_position_embeddings: 'maxPositions',
  layer_norm_epsilon: 'normEpsilon',
  rms_norm_eps: 'normEpsilon',
  rope_parameters: 'ropeParameters',
  rope_scaling: 'ropeScaling',
  rope_theta: 'ropeTheta',
  tie_word_embeddings: 'tieWordEmbeddings',
  bos_token_id: 'bosTokenId',
  eos_token_id: 'eosTokenId',
  pad_token_id: 'padTokenId',
};

/** Builds the HF `config.json` for a new model, then parses it, so created and loaded models share one path. */
export function resolveModelConfig(options: ModelConfigOptions): ModelConfig {
  if (typeof options !== 'object' || options === null) throw new ConfigError('resolveModelConfig', [`options must be an object, got ${JSON.stringify(options)}`]);
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(options.modelType)) {
    throw new ConfigError('resolveModelConfig', [`modelType must be one of ${SUPPORTED_MODEL_TYPES.join(', ')}, got ${JSON.stringify(options.modelType)}`]);
  }
  const tokens = {
    bos_token_id: options.bosTokenId ?? null,
    eos_token_id: options.eosTokenId ?? null,
    pad_token_id: options.padTokenId ?? null,
  };
  const optional = (entries: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
  const hf: Record<string, unknown> =
    familyOf(options.modelType) === 'gpt2'
      ? {
          architectures: [ARCHITECTURES.gpt2],
          model_type: 'gpt2',
          vocab_size: options.vocabSize,
          n_embd: options.hiddenSize,
          n_layer: options.numLayers,
          n_head: options.numHeads,
          n_inner: options.intermediateSize ?? null,
          n_positions: options.maxPositions ?? 1024,
          n_ctx: options.maxPositions ?? 1024,
          activation_function: 'gelu_new',
          layer_norm_epsilon: options.normEpsilon ?? 1e-5,
          initializer_range: 0.02,
          resid_pdrop: 0,
          embd_pdrop: 0,
          attn_pdrop: 0,
          tie_word_embeddings: options.tieWordEmbeddings ?? true,
          dtype: 'float32',
          ...tokens,
        }
      : {
          architectures: [ARCHITECTURES[options.modelType]],
          model_type: options.modelType,
          vocab_size: options.vocabSize,
          hidden_size: options.hiddenSize,
          num_hidden_layers: options.numLayers,
          num_attention_heads: options.numHeads,
          num_key_value_heads: options.numKeyValueHeads ?? options.numHeads,
          ...optional({ head_dim: options.headDim ?? (Number.isSafeInteger(options.hiddenSize / options.numHeads) ? options.hiddenSize / options.numHeads : undefined) }),
          intermediate_size: options.intermediateSize ?? 4 * options.hiddenSize,
          max_position_embeddings: options.maxPositions ?? 2048,
          hidden_act: 'silu',
          rms_norm_eps: options.normEpsilon ?? 1e-6,
          ...optional({ rope_parameters: options.ropeParameters ?? undefined, rope_theta: options.ropeTheta, rope_scaling: options.ropeScaling ?? undefined }),
          ...(options.ropeParameters == null && options.ropeTheta === undefined && options.ropeScaling == null ? { rope_parameters: { rope_type: 'default', rope_theta: 10000 } } : {}),
          tie_word_embeddings: options.tieWordEmbeddings ?? false,
          ...(options.modelType === 'qwen2' || options.modelType === 'mistral' ? {} : { attention_bias: options.attentionBias ?? false }),
          ...(options.modelType === 'llama' ? { mlp_bias: options.mlpBias ?? false } : {}),
          initializer_range: 0.02,
          dtype: 'float32',
          ...tokens,
        };
  for (const [key, value, allowed] of [
    ['attentionBias', options.attentionBias, options.modelType !== 'qwen2' && options.modelType !== 'mistral' && options.modelType !== 'gpt2'],
    ['mlpBias', options.mlpBias, options.modelType === 'llama'],
  ] as const) {
    if (value !== undefined && !allowed) throw new ConfigError('resolveModelConfig', [`${key} is not a setting of modelType ${options.modelType}`]);
  }
  let parsed: ModelConfig;
  try {
    parsed = parseHfConfig(hf, 'config.json built from the options');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Name the option as the caller wrote it next to the config.json key it became.
    const problems = error.problems.map((problem) => {
      const key = Object.keys(OPTION_OF_KEY).find((name) => problem.startsWith(name));
      return key === undefined ? problem : `${OPTION_OF_KEY[key]} (config.json ${problem})`;
    });
    throw new ConfigError('resolveModelConfig', problems, { cause: error });
  }
  // A model made here is saved in transformers 5's form: rope settings only under rope_parameters.
  if (parsed.rope === null) return parsed;
  const { rope_theta: _theta, rope_scaling: _scaling, ...rest } = parsed.hfConfig;
  return Object.freeze({ ...parsed, hfConfig: Object.freeze({ ...rest, rope_parameters: parsed.rope.parameters }) });
}

/** The `ModelConfigOptions` that recreate a parsed config (for `--from-scratch` HF configs). */
export function modelConfigOptionsOf(config: ModelConfig): ModelConfigOptions {
  return {
    modelType: config.modelType,
    vocabSize: config.vocabSize,
    hiddenSize: config.hiddenSize,
    numLayers: config.numLayers,
    numHeads: config.numHeads,
    numKeyValueHeads: config.numKeyValueHeads,
    ...(config.family === 'llama' ? { headDim: config.headDim } : {}),
    intermediateSize: config.intermediateSize,
    maxPositions: config.maxPositions,
    normEpsilon: config.normEpsilon,
    ...(config.rope === null ? {} : { ropeParameters: { ...config.rope.parameters } }),
    ...(config.modelType === 'llama' || config.modelType === 'qwen3' ? { attentionBias: config.outputProjectionBias } : {}),
    ...(config.modelType === 'llama' ? { mlpBias: config.mlpBias } : {}),
    tieWordEmbeddings: config.tieWordEmbeddings,
    bosTokenId: config.bosTokenId,
    eosTokenId: config.eosTokenId,
    padTokenId: config.padTokenId,
  };
}
