import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { embeddingLookup } from '../ops/embedding';
import { matMul2dTransposedB } from '../ops/mat_mul';
import { tidyObject } from '../ops/tidy_object';
import { attentionBias } from './attention';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import { decodeStepForward } from './fused_decode';
import { gpt2Block } from './gpt2_block';
import type { KVCache } from './kv_cache';
import type { LinearLayer } from './linear';
import { llamaBlock } from './llama_block';
import type { ModelConfig } from './model_config';
import { layerNorm, rmsNorm } from './norms';
import { embeddingName, finalNormNames } from './parameter_specs';
import { positionIdsFromMask } from './position_ids';
import { ropeTables } from './rope';

export interface ForwardInputs {
  /** [B, T] int32 token ids. */
  inputIds: tf.Tensor2D;
  /** [B, P + T] 1 for real tokens, 0 for padding; all ones when omitted. */
  attentionMask?: tf.Tensor2D;
  /** [B, T]; derived from the mask when omitted (cumsum − 1, padding at 1), as HF's generate does. */
  positionIds?: tf.Tensor2D;
  /** [B, T] example ids of packed rows: attention never crosses examples. Not with a cache. */
  segmentIds?: tf.Tensor2D;
  /** Keys/values of the previous P tokens. Not disposed by forward. */
  cache?: KVCache | null;
  /** Return the keys/values of all P + T tokens (default false). */
  useCache?: boolean;
  /** 'all' (default) computes [B, T, V]; 'last' only the last position, [B, 1, V]; 'none' skips the LM head. */
  logits?: 'all' | 'last' | 'none';
}

export interface ForwardOutputs {
  /** [B, T, V] (or [B, 1, V] with logits: 'last'); null with logits: 'none'. */
  logits: tf.Tensor3D | null;
  /** [B, T, D] final hidden states after the last norm (what value and reward heads read). */
  hiddenStates: tf.Tensor3D;
  cache: KVCache | null;
}

/** The block function of one transformer layer; swapped for a checkpointed version during training. */
export type BlockFunction = (source: ParameterSource, layer: number, x: tf.Tensor3D, context: BlockContext) => BlockOutput;

/**
 * A decoder-only transformer (GPT-2 or Llama family) whose parameters carry Hugging Face names. Linear layers
 * live in `linears` by module name and can be replaced (LoRA, 4-bit) with `setLinear`; every other parameter is a
 * variable in `tensors` by full name.
 */
export class CausalLM implements ParameterSource {
  readonly config: ModelConfig;
  private readonly linears: Map<string, LinearLayer>;
  private readonly tensors: Map<string, tf.Variable>;
  /** Replaces the per-layer block function (gradient checkpointing wraps it); undefined = the family's own. */
  blockFunction: BlockFunction | undefined;

  constructor(config: ModelConfig, linears: Map<string, LinearLayer>, tensors: Map<string, tf.Variable>) {
    this.config = config;
    this.linears = linears;
    this.tensors = tensors;
    this.blockFunction = undefined;
  }

  linear(name: string): LinearLayer {
    const layer = this.linears.get(name);
    if (layer === undefined) throw new ShapeError(`CausalLM.linear: no linear module named "${name}"`);
    return layer;
  }

  tensor(name: string): tf.Variable {
    const variable = this.tensors.get(name);
    if (variable === undefined) throw new ShapeError(`CausalLM.tensor: no parameter named "${name}"`);
    return variable;
  }

  /** HF module names of every linear layer, in model order (lm_head last when untied). */
  linearNames(): string[] {
    return [...this.linears.keys()];
  }

  /** Replaces a linear module (same in/out features); returns the previous one, which the caller now owns. */
  setLinear(name: string, layer: LinearLayer): LinearLayer {
    const previous = this.linear(name);
    if (previous.inFeatures !== layer.inFeatures || previous.outFeatures !== layer.outFeatures) {
      throw new ShapeError(
        `CausalLM.setLinear: "${name}" is [${previous.inFeatures} → ${previous.outFeatures}], the new layer is [${layer.inFeatures} → ${layer.outFeatures}]`,
      );
    }
    this.linears.set(name, layer);
    return previous;
  }

  /** Non-linear parameters (embeddings, norms) by full HF name. */
  tensorParameters(): Map<string, tf.Variable> {
    return new Map(this.tensors);
  }

  /** Every parameter by full name: `<module>.<param>` for linear layers (weights [in, out]) and HF names otherwise. */
  namedParameters(): Map<string, tf.Variable> {
    const all = new Map<string, tf.Variable>();
    for (const [name, variable] of this.tensors) all.set(name, variable);
    for (const [module, layer] of this.linears) {
      for (const [param, variable] of layer.parameters()) all.set(`${module}.${param}`, variable);
    }
    return all;
  }

  /** The parameters an optimizer updates: those whose variables are trainable. */
  trainableParameters(): Map<string, tf.Variable> {
    return new Map([...this.namedParameters()].filter(([, variable]) => variable.trainable));
  }

  forward(inputs: ForwardInputs): ForwardOutputs {
    const { config } = this;
    const [batch, length] = inputs.inputIds.shape;
    const past = inputs.cache?.length ?? 0;
    if (inputs.inputIds.rank !== 2) throw new ShapeError(`CausalLM.forward: inputIds must be [B, T], got [${inputs.inputIds.shape}]`);
    if (inputs.attentionMask !== undefined && (inputs.attentionMask.shape[0] !== batch || inputs.attentionMask.shape[1] !== past + length)) {
      throw new ShapeError(
        `CausalLM.forward: attentionMask is [${inputs.attentionMask.shape}], expected [${batch}, ${past + length}] (inputIds [${batch}, ${length}] after ${past} cached tokens)`,
      );
    }
    if (inputs.segmentIds !== undefined && past > 0) throw new ShapeError('CausalLM.forward: segmentIds cannot be combined with a cache');
    for (const [name, tensor] of [['positionIds', inputs.positionIds], ['segmentIds', inputs.segmentIds]] as const) {
      if (tensor !== undefined && (tensor.shape[0] !== batch || tensor.shape[1] !== length)) {
        throw new ShapeError(`CausalLM.forward: ${name} is [${tensor.shape}], expected [${batch}, ${length}]`);
      }
    }
    const capacity = inputs.cache?.capacity;
    if (inputs.cache !== undefined && inputs.cache !== null) {
      const cacheBatch = inputs.cache.keys[0]?.shape[0];
      if (cacheBatch !== batch || (capacity !== undefined && past + length > capacity)) {
        throw new ShapeError(
          `CausalLM.forward: the cache holds ${cacheBatch} rows × ${past} positions${capacity === undefined ? '' : ` of ${capacity}`}; ` +
            `inputIds [${batch}, ${length}] ${cacheBatch !== batch ? 'have another batch size' : 'do not fit in it'}`,
        );
      }
    }
    if (inputs.useCache === true && inputs.logits !== 'none' && inputs.segmentIds === undefined) {
      const fused = decodeStepForward(this, inputs); // one-token steps on a backend with the fused decode-step kernel
      if (fused !== null) return { logits: fused.logits, hiddenStates: fused.hiddenStates, cache: { length: past + 1, keys: fused.keys, values: fused.values, ...(capacity === undefined ? {} : { capacity }) } };
    }
    this.checkVocabulary(inputs.inputIds);
    const block = this.blockFunction ?? (config.family === 'gpt2' ? gpt2Block : llamaBlock);

    const result = tidyObject(() => {
      const mask = inputs.attentionMask ?? (tf.ones([batch, past + length], 'int32') as tf.Tensor2D);
      const positions = inputs.positionIds ?? positionIdsFromMask(mask, length);
      if (config.rope === null) this.checkPositions(positions);
      // a preallocated cache: attend over all C buffer positions, the unfilled ones masked like padding
      const bias = attentionBias(mask, length, past, inputs.segmentIds, capacity); // [B, 1, T, S or C]
      const flatIds = tf.reshape(inputs.inputIds, [batch * length]) as tf.Tensor1D; // [B·T]
      let hidden = tf.reshape(embeddingLookup(this.tensor(embeddingName(config)) as tf.Tensor2D, flatIds), [batch, length, config.hiddenSize]) as tf.Tensor3D; // [B, T, D]
      if (config.rope === null) {
        const flatPositions = tf.reshape(positions, [batch * length]) as tf.Tensor1D;
        const positional = embeddingLookup(this.tensor('transformer.wpe.weight') as tf.Tensor2D, flatPositions); // [B·T, D]
        hidden = tf.add(hidden, tf.reshape(positional, [batch, length, config.hiddenSize])) as tf.Tensor3D;
      }
      const rope = config.rope === null ? null : ropeTables(positions, config.headDim, config.rope);
      const keys: tf.Tensor4D[] = [];
      const values: tf.Tensor4D[] = [];
      for (let layer = 0; layer < config.numLayers; layer++) {
        const output = block(this, layer, hidden, {
          bias,
          rope,
          pastKey: inputs.cache?.keys[layer] ?? null,
          pastValue: inputs.cache?.values[layer] ?? null,
          ...(capacity === undefined ? {} : { pastLength: past }),
          keepKeyValues: inputs.useCache === true,
        });
        hidden = output.hidden;
        keys.push(output.key);
        values.push(output.value);
      }
      const normNames = finalNormNames(config);
      const hiddenStates = (normNames.bias === null
        ? rmsNorm(hidden, this.tensor(normNames.weight), config.normEpsilon)
        : layerNorm(hidden, this.tensor(normNames.weight), this.tensor(normNames.bias), config.normEpsilon)) as tf.Tensor3D; // [B, T, D]
      const logits = inputs.logits === 'none' ? null : this.lmHead(inputs.logits === 'last' ? tf.slice(hiddenStates, [0, length - 1, 0], [batch, 1, config.hiddenSize]) as tf.Tensor3D : hiddenStates);
      return { logits, hiddenStates, keys: inputs.useCache === true ? keys : [], values: inputs.useCache === true ? values : [] };
    });
    const cache: KVCache | null =
      inputs.useCache === true ? { length: past + length, keys: result.keys, values: result.values, ...(capacity === undefined ? {} : { capacity }) } : null;
    return { logits: result.logits, hiddenStates: result.hiddenStates, cache };
  }

  /** hidden [B, T, D] → logits [B, T, V] through lm_head, or the transposed embedding when tied. */
  lmHead(hidden: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, length, width] = hidden.shape;
      const flat = tf.reshape(hidden, [batch * length, width]) as tf.Tensor2D; // [B·T, D]
      const logits = this.config.tieWordEmbeddings
        ? matMul2dTransposedB(flat, this.tensor(embeddingName(this.config)) as tf.Tensor2D) // [B·T, D] @ [V, D]ᵀ, no copied transpose
        : this.linear('lm_head').forward(flat);
      return tf.reshape(logits, [batch, length, this.config.vocabSize]) as tf.Tensor3D; // [B, T, V]
    });
  }

  private checkVocabulary(inputIds: tf.Tensor2D): void {
    const [minimum, maximum] = tf.tidy(() => [tf.min(inputIds).dataSync()[0] ?? 0, tf.max(inputIds).dataSync()[0] ?? 0]);
    if ((minimum as number) < 0 || (maximum as number) >= this.config.vocabSize) {
      throw new ShapeError(
        `CausalLM.forward: inputIds hold ids in [${minimum}, ${maximum}] but the vocabulary has ${this.config.vocabSize} entries (tokenizer and model do not match?)`,
      );
    }
  }

  private checkPositions(positions: tf.Tensor2D): void {
    const maximum = tf.tidy(() => tf.max(positions).dataSync()[0] ?? 0);
    if (maximum >= this.config.maxPositions) {
      throw new ShapeError(`CausalLM.forward: position ${maximum} is past the model's ${this.config.maxPositions} learned positions`);
    }
  }

  dispose(): void {
    for (const layer of this.linears.values()) layer.dispose();
    for (const variable of this.tensors.values()) variable.dispose();
    this.linears.clear();
    this.tensors.clear();
  }
}
