import { CheckpointError, ConfigError } from '../errors/errors';

export type ModelFamily = 'gpt2' | 'llama';
export type ModelType = 'gpt2' | 'llama' | 'qwen2' | 'mistral';

/** Rotary position embeddings; `linear` scaling divides positions by `factor`. */
export interface RopeConfig {
  readonly theta: number;
  readonly scaling: { readonly type: 'linear'; readonly factor: number } | null;
}

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
  /** q/k/v projections carry biases (Qwen2; GPT-2's fused c_attn always does). */
  readonly attentionBias: boolean;
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
  intermediateSize?: number;
  maxPositions?: number;
  normEpsilon?: number;
  ropeTheta?: number;
  ropeScaling?: { type: 'linear'; factor: number } | null;
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
    case 'mistral':
      return 'llama';
    default: {
      const unreachable: never = modelType;
      return unreachable;
    }
  }
}

const SUPPORTED: readonly ModelType[] = ['gpt2', 'llama', 'qwen2', 'mistral'];

function positiveInteger(problems: string[], name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    problems.push(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return 1;
  }
  return value;
}

function tokenId(value: unknown): number | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (Array.isArray(value) && typeof value[0] === 'number') return value[0]; // eos_token_id may be a list
  return null;
}

function ropeScalingOf(problems: string[], value: unknown): RopeConfig['scaling'] {
  if (value === undefined || value === null) return null;
  const scaling = value as Record<string, unknown>;
  const type = scaling['rope_type'] ?? scaling['type'];
  if (type === 'default') return null;
  if (type !== 'linear') {
    problems.push(`rope_scaling type ${JSON.stringify(type)} is not supported (supported: linear)`);
    return null;
  }
  const factor = scaling['factor'];
  if (typeof factor !== 'number' || !(factor > 0)) {
    problems.push(`rope_scaling.factor must be a positive number, got ${JSON.stringify(factor)}`);
    return null;
  }
  return { type: 'linear', factor };
}

/** Reads a Hugging Face `config.json` object; every problem is collected into one `CheckpointError`. */
export function parseHfConfig(json: unknown, source = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CheckpointError(`parseHfConfig: ${source} is not a JSON object`);
  }
  const hf = json as Record<string, unknown>;
  const modelType = hf['model_type'];
  if (typeof modelType !== 'string' || !(SUPPORTED as readonly string[]).includes(modelType)) {
    throw new CheckpointError(
      `parseHfConfig: ${source} has model_type ${JSON.stringify(modelType)}; supported: ${SUPPORTED.join(', ')}`,
    );
  }
  const type = modelType as ModelType;
  const family = familyOf(type);
  const problems: string[] = [];
  let config: ModelConfig;
  if (family === 'gpt2') {
    const hiddenSize = positiveInteger(problems, 'n_embd', hf['n_embd']);
    const numHeads = positiveInteger(problems, 'n_head', hf['n_head']);
    const activation = hf['activation_function'] ?? 'gelu_new';
    if (activation !== 'gelu_new') problems.push(`activation_function ${JSON.stringify(activation)} is not supported (gelu_new)`);
    config = {
      modelType: type,
      family,
      vocabSize: positiveInteger(problems, 'vocab_size', hf['vocab_size']),
      hiddenSize,
      numLayers: positiveInteger(problems, 'n_layer', hf['n_layer']),
      numHeads,
      numKeyValueHeads: numHeads,
      headDim: Math.floor(hiddenSize / numHeads),
      intermediateSize: hf['n_inner'] === null || hf['n_inner'] === undefined ? 4 * hiddenSize : positiveInteger(problems, 'n_inner', hf['n_inner']),
      maxPositions: positiveInteger(problems, 'n_positions', hf['n_positions'] ?? hf['n_ctx']),
      normEpsilon: typeof hf['layer_norm_epsilon'] === 'number' ? hf['layer_norm_epsilon'] : 1e-5,
      rope: null,
      attentionBias: true,
      tieWordEmbeddings: hf['tie_word_embeddings'] !== false,
      bosTokenId: tokenId(hf['bos_token_id']),
      eosTokenId: tokenId(hf['eos_token_id']),
      padTokenId: tokenId(hf['pad_token_id']),
      hfConfig: Object.freeze({ ...hf }),
    };
  } else {
    const hiddenSize = positiveInteger(problems, 'hidden_size', hf['hidden_size']);
    const numHeads = positiveInteger(problems, 'num_attention_heads', hf['num_attention_heads']);
    const numKeyValueHeads = positiveInteger(problems, 'num_key_value_heads', hf['num_key_value_heads'] ?? numHeads);
    const headDim = hf['head_dim'] === undefined || hf['head_dim'] === null ? Math.floor(hiddenSize / numHeads) : positiveInteger(problems, 'head_dim', hf['head_dim']);
    const activation = hf['hidden_act'] ?? 'silu';
    if (activation !== 'silu') problems.push(`hidden_act ${JSON.stringify(activation)} is not supported (silu)`);
    if (numHeads % numKeyValueHeads !== 0) {
      problems.push(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`);
    }
    if (headDim % 2 !== 0) problems.push(`head_dim (${headDim}) must be even for rotary embeddings`);
    config = {
      modelType: type,
      family,
      vocabSize: positiveInteger(problems, 'vocab_size', hf['vocab_size']),
      hiddenSize,
      numLayers: positiveInteger(problems, 'num_hidden_layers', hf['num_hidden_layers']),
      numHeads,
      numKeyValueHeads,
      headDim,
      intermediateSize: positiveInteger(problems, 'intermediate_size', hf['intermediate_size']),
      maxPositions: positiveInteger(problems, 'max_position_embeddings', hf['max_position_embeddings'] ?? 2048),
      normEpsilon: typeof hf['rms_norm_eps'] === 'number' ? hf['rms_norm_eps'] : 1e-6,
      rope: {
        theta: typeof hf['rope_theta'] === 'number' ? hf['rope_theta'] : 10000,
        scaling: ropeScalingOf(problems, hf['rope_scaling']),
      },
      attentionBias: type === 'qwen2' || hf['attention_bias'] === true,
      tieWordEmbeddings: hf['tie_word_embeddings'] === true,
      bosTokenId: tokenId(hf['bos_token_id']),
      eosTokenId: tokenId(hf['eos_token_id']),
      padTokenId: tokenId(hf['pad_token_id']),
      hfConfig: Object.freeze({ ...hf }),
    };
  }
  if (family === 'gpt2' && config.hiddenSize % config.numHeads !== 0) {
    problems.push(`n_embd (${config.hiddenSize}) must be divisible by n_head (${config.numHeads})`);
  }
  if (problems.length > 0) {
    throw new CheckpointError(`parseHfConfig: ${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return Object.freeze(config);
}

/** Builds the HF `config.json` for a new model, then parses it, so created and loaded models share one path. */
export function resolveModelConfig(options: ModelConfigOptions): ModelConfig {
  const problems: string[] = [];
  if (!(SUPPORTED as readonly string[]).includes(options.modelType)) {
    problems.push(`modelType must be one of ${SUPPORTED.join(', ')}, got ${JSON.stringify(options.modelType)}`);
  }
  if (problems.length > 0) throw new ConfigError('resolveModelConfig', problems);
  const tokens = {
    bos_token_id: options.bosTokenId ?? null,
    eos_token_id: options.eosTokenId ?? null,
    pad_token_id: options.padTokenId ?? null,
  };
  const hf: Record<string, unknown> =
    familyOf(options.modelType) === 'gpt2'
      ? {
          architectures: ['GPT2LMHeadModel'],
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
          torch_dtype: 'float32',
          ...tokens,
        }
      : {
          architectures: [
            options.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : options.modelType === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM',
          ],
          model_type: options.modelType,
          vocab_size: options.vocabSize,
          hidden_size: options.hiddenSize,
          num_hidden_layers: options.numLayers,
          num_attention_heads: options.numHeads,
          num_key_value_heads: options.numKeyValueHeads ?? options.numHeads,
          intermediate_size: options.intermediateSize ?? 4 * options.hiddenSize,
          max_position_embeddings: options.maxPositions ?? 2048,
          hidden_act: 'silu',
          rms_norm_eps: options.normEpsilon ?? 1e-6,
          rope_theta: options.ropeTheta ?? 10000,
          rope_scaling: options.ropeScaling ?? null,
          tie_word_embeddings: options.tieWordEmbeddings ?? false,
          attention_bias: false,
          initializer_range: 0.02,
          torch_dtype: 'float32',
          ...tokens,
        };
  try {
    return parseHfConfig(hf, 'resolveModelConfig');
  } catch (error) {
    if (error instanceof CheckpointError) throw new ConfigError('resolveModelConfig', [error.message], { cause: error });
    throw error;
  }
}
