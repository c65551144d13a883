import type { WeightLayout } from './linear';
import type { ModelConfig } from './model_config';

/** A linear module by HF name, e.g. `model.layers.3.self_attn.q_proj`. Its weight is [in, out] in memory. */
export interface LinearSpec {
  readonly kind: 'linear';
  readonly module: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
  readonly layout: WeightLayout;
  readonly initStd: number;
}

/** Any other parameter (embeddings, norms) by its full HF name. */
export interface TensorSpec {
  readonly kind: 'tensor';
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: 'normal' | 'ones' | 'zeros';
  readonly initStd: number;
}

export type ParameterSpec = LinearSpec | TensorSpec;

const INIT_STD = 0.02; // HF initializer_range

/** Every parameter of a model of this config, in HF naming and order (DESIGN.md: layers reachable by HF name). */
export function parameterSpecs(config: ModelConfig): ParameterSpec[] {
  switch (config.family) {
    case 'gpt2':
      return gpt2Specs(config);
    case 'llama':
      return llamaSpecs(config);
    default: {
      const unreachable: never = config.family;
      return unreachable;
    }
  }
}

function linear(module: string, inFeatures: number, outFeatures: number, bias: boolean, layout: WeightLayout, initStd = INIT_STD): LinearSpec {
  return { kind: 'linear', module, inFeatures, outFeatures, bias, layout, initStd };
}

function tensor(name: string, shape: number[], init: TensorSpec['init']): TensorSpec {
  return { kind: 'tensor', name, shape, init, initStd: INIT_STD };
}

function lmHead(config: ModelConfig): ParameterSpec[] {
  return config.tieWordEmbeddings ? [] : [linear('lm_head', config.hiddenSize, config.vocabSize, false, 'linear')];
}

function gpt2Specs(config: ModelConfig): ParameterSpec[] {
  const d = config.hiddenSize;
  // GPT-2 scales the residual projections' init by 1/√(2·n_layer) (Radford et al. 2019).
  const residualStd = INIT_STD / Math.sqrt(2 * config.numLayers);
  const specs: ParameterSpec[] = [tensor('transformer.wte.weight', [config.vocabSize, d], 'normal'), tensor('transformer.wpe.weight', [config.maxPositions, d], 'normal')];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `transformer.h.${i}`;
    specs.push(
      tensor(`${p}.ln_1.weight`, [d], 'ones'),
      tensor(`${p}.ln_1.bias`, [d], 'zeros'),
      linear(`${p}.attn.c_attn`, d, 3 * d, true, 'conv1d'),
      linear(`${p}.attn.c_proj`, d, d, true, 'conv1d', residualStd),
      tensor(`${p}.ln_2.weight`, [d], 'ones'),
      tensor(`${p}.ln_2.bias`, [d], 'zeros'),
      linear(`${p}.mlp.c_fc`, d, config.intermediateSize, true, 'conv1d'),
      linear(`${p}.mlp.c_proj`, config.intermediateSize, d, true, 'conv1d', residualStd),
    );
  }
  specs.push(tensor('transformer.ln_f.weight', [d], 'ones'), tensor('transformer.ln_f.bias', [d], 'zeros'), ...lmHead(config));
  return specs;
}

function llamaSpecs(config: ModelConfig): ParameterSpec[] {
  const d = config.hiddenSize;
  const attentionOut = config.numHeads * config.headDim;
  const keyValueOut = config.numKeyValueHeads * config.headDim;
  const specs: ParameterSpec[] = [tensor('model.embed_tokens.weight', [config.vocabSize, d], 'normal')];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      tensor(`${p}.input_layernorm.weight`, [d], 'ones'),
      linear(`${p}.self_attn.q_proj`, d, attentionOut, config.attentionBias, 'linear'),
      linear(`${p}.self_attn.k_proj`, d, keyValueOut, config.attentionBias, 'linear'),
      linear(`${p}.self_attn.v_proj`, d, keyValueOut, config.attentionBias, 'linear'),
      ...(config.queryKeyNorm ? [tensor(`${p}.self_attn.q_norm.weight`, [config.headDim], 'ones'), tensor(`${p}.self_attn.k_norm.weight`, [config.headDim], 'ones')] : []),
      linear(`${p}.self_attn.o_proj`, attentionOut, d, config.outputProjectionBias, 'linear'),
      tensor(`${p}.post_attention_layernorm.weight`, [d], 'ones'),
      linear(`${p}.mlp.gate_proj`, d, config.intermediateSize, config.mlpBias, 'linear'),
      linear(`${p}.mlp.up_proj`, d, config.intermediateSize, config.mlpBias, 'linear'),
      linear(`${p}.mlp.down_proj`, config.intermediateSize, d, config.mlpBias, 'linear'),
    );
  }
  specs.push(tensor('model.norm.weight', [d], 'ones'), ...lmHead(config));
  return specs;
}

/** The embedding table, whose transpose is the LM head when embeddings are tied. */
export function embeddingName(config: ModelConfig): string {
  return config.family === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
}

export function finalNormNames(config: ModelConfig): { weight: string; bias: string | null } {
  return config.family === 'gpt2'
    ? { weight: 'transformer.ln_f.weight', bias: 'transformer.ln_f.bias' }
    : { weight: 'model.norm.weight', bias: null };
}
