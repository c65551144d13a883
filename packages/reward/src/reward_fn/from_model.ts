import * as tf from '@tensorflow/tfjs';
import { ConfigError, padSequences } from '@rlhfjs/core';
import type { PreferenceTokenizer } from '../data/preference_pairs';
import type { RewardModel } from '../model/reward_model';
import { checkInputs, type RewardFn } from './reward_fn';

export interface RewardFnFromModelOptions {
  /** Sequences per forward pass (default 16). */
  batchSize?: number;
  /**
   * Render each (prompt, completion) as a user turn and an assistant turn with the tokenizer's chat template
   * (default false: plain `prompt + completion` text, encoded with special tokens).
   */
  conversational?: boolean;
  /** Longest sequence in tokens; longer ones keep their LAST tokens, where the reward is read (default 1024). */
  maxLength?: number;
  /** Append EOS to plain text when missing, as the reward trainer trained on it (default true). */
  appendEos?: boolean;
  /** Apply `model.normalizer` when the model has one (default true). */
  normalize?: boolean;
}

export interface RewardFnFromModelConfig {
  readonly batchSize: number;
  readonly conversational: boolean;
  readonly maxLength: number;
  readonly appendEos: boolean;
  readonly normalize: boolean;
}

export function resolveRewardFnFromModelConfig(options: RewardFnFromModelOptions = {}): RewardFnFromModelConfig {
  const config = {
    batchSize: options.batchSize ?? 16,
    conversational: options.conversational ?? false,
    maxLength: options.maxLength ?? 1024,
    appendEos: options.appendEos ?? true,
    normalize: options.normalize ?? true,
  };
  const problems: string[] = [];
  if (!(Number.isSafeInteger(config.batchSize) && config.batchSize > 0)) problems.push(`batchSize must be a positive integer, got ${config.batchSize}`);
  if (!(Number.isSafeInteger(config.maxLength) && config.maxLength > 0)) problems.push(`maxLength must be a positive integer, got ${config.maxLength}`);
  for (const key of ['conversational', 'appendEos', 'normalize'] as const) {
    if (typeof config[key] !== 'boolean') problems.push(`${key} must be a boolean, got ${String(config[key])}`);
  }
  if (problems.length > 0) throw new ConfigError('rewardFnFromModel', problems);
  return Object.freeze(config);
}

/**
 * A `RewardFn` over a reward model: tokenizes prompt + completion (with the chat template when conversational),
 * scores them in batches without gradients, and applies the model's normalizer when it has one.
 */
export function rewardFnFromModel(model: RewardModel, tokenizer: PreferenceTokenizer, options: RewardFnFromModelOptions = {}): RewardFn {
  const config = resolveRewardFnFromModelConfig(options);
  const encode = (prompt: string, completion: string): number[] => {
    let ids: number[];
    if (config.conversational) {
      const text = tokenizer.applyChatTemplate([
        { role: 'user', content: prompt },
        { role: 'assistant', content: completion },
      ]);
      ids = tokenizer.encode(text, { addSpecialTokens: false });
    } else {
      ids = tokenizer.encode(prompt + completion, { addSpecialTokens: true });
      const eos = tokenizer.eosTokenId;
      if (config.appendEos && eos !== null && ids[ids.length - 1] !== eos) ids.push(eos);
    }
    return ids.length > config.maxLength ? ids.slice(ids.length - config.maxLength) : ids;
  };
  return async (prompts, completions) => {
    checkInputs('rewardFnFromModel', prompts, completions);
    const out = new Float32Array(completions.length);
    for (let start = 0; start < completions.length; start += config.batchSize) {
      const sequences: number[][] = [];
      for (let index = start; index < Math.min(start + config.batchSize, completions.length); index++) {
        sequences.push(encode(prompts[index] as string, completions[index] as string));
      }
      const batch = padSequences(sequences, tokenizer.padTokenId, 'right');
      const rewards = tf.tidy(() => model.rewards(tf.tensor2d(batch.inputIds, undefined, 'int32'), tf.tensor2d(batch.attentionMask, undefined, 'int32'))); // [B]
      try {
        out.set(await rewards.data(), start);
      } finally {
        rewards.dispose();
      }
    }
    return config.normalize && model.normalizer !== null ? model.normalizer.normalize(out) : out;
  };
}
