import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, matMul2d, type CausalLM, type ModelConfig } from '@rlhfjs/core';
import type { RewardNormalizer } from '../normalize/reward_normalizer';
import { gatherPositions, lastRealTokenIndices } from './last_token';

/** The HF name of the scalar head, as in transformers' `*ForSequenceClassification` (`score`, no bias). */
export const SCORE_WEIGHT_NAME = 'score.weight';

export interface RewardModelOptions {
  /** Seed of the head's initialisation (default 0). */
  seed?: number;
  /** The pad token written to config.json; default the backbone's `pad_token_id`, else its EOS. */
  padTokenId?: number | null;
}

export interface RewardModelParts {
  /** Written to config.json as `pad_token_id` (transformers needs it to score batches). */
  padTokenId: number | null;
  /** `tie_word_embeddings` for config.json (a backbone loaded without lm_head is built tied; the file keeps its value). */
  tieWordEmbeddings: boolean;
}

/**
 * A reward model: a causal-LM transformer backbone plus a scalar head `score` ([D] → 1, no bias), read at the last
 * real token of each sequence (the last position where the attention mask is 1, i.e. the EOS when there is one),
 * for left and right padding alike. The LM head is never computed.
 *
 * The reward model owns its backbone: `dispose()` frees both.
 */
export class RewardModel {
  readonly backbone: CausalLM;
  /** [D, 1] in memory; HF's `score.weight` is [1, D] with the same values in the same order. */
  readonly score: tf.Variable;
  readonly padTokenId: number | null;
  readonly tieWordEmbeddings: boolean;
  /**
   * Running reward statistics saved with the model (`reward_normalizer.json`) and applied by `rewardFnFromModel`;
   * null when none was fitted.
   */
  normalizer: RewardNormalizer | null = null;

  constructor(backbone: CausalLM, score: tf.Variable, parts: RewardModelParts) {
    const width = backbone.config.hiddenSize;
    if (score.rank !== 2 || score.shape[0] !== width || score.shape[1] !== 1) {
      throw new ShapeError(`RewardModel: score must be [${width}, 1] for hidden size ${width}, got [${score.shape}]`);
    }
    this.backbone = backbone;
    this.score = score;
    this.padTokenId = parts.padTokenId;
    this.tieWordEmbeddings = parts.tieWordEmbeddings;
  }

  /**
   * Wraps a causal LM (which the reward model then owns) with a fresh head drawn from N(0, initializer_range),
   * as transformers initialises `score` (initializer_range from the config, default 0.02).
   */
  static fromCausalLM(model: CausalLM, options: RewardModelOptions = {}): RewardModel {
    const seed = options.seed ?? 0;
    const problems: string[] = [];
    if (!Number.isSafeInteger(seed)) problems.push(`seed must be an integer, got ${seed}`);
    const padTokenId = options.padTokenId === undefined ? (model.config.padTokenId ?? model.config.eosTokenId) : options.padTokenId;
    if (padTokenId !== null && !(Number.isSafeInteger(padTokenId) && padTokenId >= 0 && padTokenId < model.config.vocabSize)) {
      problems.push(`padTokenId must be an id in [0, ${model.config.vocabSize}), got ${padTokenId}`);
    }
    if (problems.length > 0) throw new ConfigError('RewardModel.fromCausalLM', problems);
    const range = model.config.hfConfig['initializer_range'];
    const std = typeof range === 'number' && range > 0 ? range : 0.02;
    const score = tf.tidy(() => tf.variable(tf.randomNormal([model.config.hiddenSize, 1], 0, std, 'float32', seed))); // [D, 1]
    return new RewardModel(model, score, { padTokenId, tieWordEmbeddings: model.config.tieWordEmbeddings });
  }

  get config(): ModelConfig {
    return this.backbone.config;
  }

  /**
   * inputIds [B, T], attentionMask [B, T] (1 = real token) → rewards [B], the head applied to the final hidden
   * state at each row's last real token. Differentiable with respect to the backbone and the head.
   */
  rewards(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): tf.Tensor1D {
    if (attentionMask.shape[0] !== inputIds.shape[0] || attentionMask.shape[1] !== inputIds.shape[1]) {
      throw new ShapeError(`RewardModel.rewards: attentionMask is [${attentionMask.shape}], inputIds [${inputIds.shape}]; they must match`);
    }
    const positions = lastRealTokenIndices(attentionMask);
    return tf.tidy(() => {
      const { hiddenStates } = this.backbone.forward({ inputIds, attentionMask, logits: 'none' }); // [B, T, D]
      const last = gatherPositions(hiddenStates, positions); // [B, D]
      const scores = matMul2d(last, this.score as tf.Tensor as tf.Tensor2D); // [B, D] @ [D, 1] → [B, 1]
      return tf.reshape(scores, [inputIds.shape[0]]) as tf.Tensor1D; // [B]
    });
  }

  /** Every parameter: the backbone's by HF name (LM head excluded) and `score.weight`. */
  namedParameters(): Map<string, tf.Variable> {
    const parameters = new Map([...this.backbone.namedParameters()].filter(([name]) => !isLmHead(name)));
    parameters.set(SCORE_WEIGHT_NAME, this.score);
    return parameters;
  }

  /**
   * What a reward trainer updates: the backbone's trainable variables (all of them, or only LoRA adapters after
   * LoRA/QLoRA froze the rest) without the unused LM head, and the head.
   */
  trainableParameters(): Map<string, tf.Variable> {
    return new Map([...this.namedParameters()].filter(([, variable]) => variable.trainable));
  }

  dispose(): void {
    this.backbone.dispose();
    this.score.dispose();
  }
}

function isLmHead(name: string): boolean {
  return name === 'lm_head' || name.startsWith('lm_head.');
}
