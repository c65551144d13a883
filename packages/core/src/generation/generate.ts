import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '../errors/errors';
import type { CausalLM } from '../model/causal_lm';
import { disposeCache, type KVCache } from '../model/kv_cache';
import { createRng } from '../data/rng';
import { sampleToken, type SamplingConfig } from './sampling';

export interface GenerationOptions {
  /** Default 32. */
  maxNewTokens?: number;
  /** Default true; false is greedy decoding. */
  doSample?: boolean;
  /** Default 1. 0 means greedy decoding (as in HF, vLLM and the OpenAI API); it contradicts `doSample: true`. */
  temperature?: number;
  /** Default 0 (off). */
  topK?: number;
  /** Default 1 (off). */
  topP?: number;
  /** Default 0. */
  seed?: number;
  /** Tokens that end a sequence (kept in the completion with mask 1). Default: the model config's EOS. */
  stopTokenIds?: number[];
  /** Fills finished rows. Default: the config's pad token, else EOS, else 0. */
  padTokenId?: number;
  /** Reuse keys/values between steps (default true). Without it every step re-runs the whole sequence. */
  useCache?: boolean;
}

export interface GenerationConfig extends SamplingConfig {
  readonly maxNewTokens: number;
  readonly seed: number;
  readonly stopTokenIds: readonly number[];
  readonly padTokenId: number;
  readonly useCache: boolean;
}

export interface GenerationOutput {
  /** Prompt (as given, left-padded) followed by the completion: [B, P + N]. */
  sequences: number[][];
  /** Attention mask of `sequences`: prompt mask then completion mask. */
  attentionMask: number[][];
  /** Generated tokens [B, N], padded with the pad token after a stop token. */
  completionIds: number[][];
  /** 1 for generated tokens up to and including the stop token. */
  completionMask: number[][];
  /** log p of each generated token under the model at the sampling temperature (0 where masked). */
  logProbs: number[][];
  /** Whether each row ended on a stop token (false: it ran out of maxNewTokens). */
  finished: boolean[];
  promptLength: number;
}

export function resolveGenerationConfig(model: CausalLM, options: GenerationOptions = {}): GenerationConfig {
  const problems: string[] = [];
  const eos = model.config.eosTokenId;
  // temperature 0 is greedy decoding (HF, vLLM, OpenAI); greedy ignores the temperature when scoring tokens.
  const greedyByTemperature = options.temperature === 0;
  if (greedyByTemperature && options.doSample === true) problems.push('temperature 0 means greedy decoding, which contradicts doSample: true');
  const config: GenerationConfig = {
    maxNewTokens: options.maxNewTokens ?? 32,
    doSample: options.doSample ?? !greedyByTemperature,
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    seed: options.seed ?? 0,
    stopTokenIds: Object.freeze([...(options.stopTokenIds ?? (eos === null ? [] : [eos]))]),
    padTokenId: options.padTokenId ?? model.config.padTokenId ?? eos ?? 0,
    useCache: options.useCache ?? true,
  };
  if (!Number.isInteger(config.maxNewTokens) || config.maxNewTokens < 1) problems.push(`maxNewTokens must be a positive integer, got ${config.maxNewTokens}`);
  if (!(config.temperature > 0) && !greedyByTemperature) problems.push(`temperature must be > 0 (or 0 for greedy), got ${config.temperature}`);
  if (!Number.isInteger(config.topK) || config.topK < 0) problems.push(`topK must be a non-negative integer, got ${config.topK}`);
  if (!(config.topP > 0 && config.topP <= 1)) problems.push(`topP must be in (0, 1], got ${config.topP}`);
  const vocab = model.config.vocabSize;
  for (const id of [...config.stopTokenIds, config.padTokenId]) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) problems.push(`token id ${id} (stop or pad) is outside the vocabulary of ${vocab}`);
  }
  if (problems.length > 0) throw new ConfigError('generate', problems);
  return Object.freeze(config);
}

/**
 * Batched generation from left-padded prompts with a KV cache, greedy or sampled (temperature, top-k, top-p),
 * seeded, stopping each row at its stop token. Greedy decoding with the cache equals decoding without it.
 */
export function generate(
  model: CausalLM,
  prompts: { inputIds: number[][]; attentionMask?: number[][] },
  options: GenerationOptions = {},
): GenerationOutput {
  const config = resolveGenerationConfig(model, options);
  const batch = prompts.inputIds.length;
  const promptLength = prompts.inputIds[0]?.length ?? 0;
  if (batch === 0 || promptLength === 0) throw new ShapeError('generate: prompts must hold at least one non-empty row');
  if (prompts.inputIds.some((row) => row.length !== promptLength)) throw new ShapeError('generate: prompt rows differ in length; pad them (left) first');
  const promptMask = prompts.attentionMask ?? prompts.inputIds.map((row) => row.map(() => 1));
  for (const row of promptMask) {
    if (row.length !== promptLength) throw new ShapeError(`generate: attentionMask rows must have length ${promptLength}`);
    if (row[row.length - 1] !== 1) throw new ShapeError('generate: prompts must be left-padded (last prompt position is padding)');
  }
  const rng = createRng(config.seed);
  const sequences = prompts.inputIds.map((row) => [...row]);
  const mask = promptMask.map((row) => [...row]);
  const completionIds: number[][] = sequences.map(() => []);
  const completionMask: number[][] = sequences.map(() => []);
  const logProbs: number[][] = sequences.map(() => []);
  const finished = new Array<boolean>(batch).fill(false);
  let cache: KVCache | null = null;
  try {
    for (let step = 0; step < config.maxNewTokens; step++) {
      const useCached = config.useCache && cache !== null;
      const feedIds = useCached ? sequences.map((row) => [row[row.length - 1] as number]) : sequences;
      const inputIds = tf.tensor2d(feedIds, undefined, 'int32');
      const attentionMask = tf.tensor2d(mask, undefined, 'int32');
      let output;
      try {
        output = model.forward({ inputIds, attentionMask, cache: useCached ? cache : null, useCache: config.useCache, logits: 'last' });
      } finally {
        tf.dispose([inputIds, attentionMask]);
      }
      disposeCache(cache);
      cache = output.cache;
      output.hiddenStates.dispose();
      const logits = output.logits as tf.Tensor3D; // [B, 1, V]
      const values = logits.dataSync() as Float32Array;
      logits.dispose();
      const vocab = model.config.vocabSize;
      for (let b = 0; b < batch; b++) {
        if (finished[b]) {
          completionIds[b]?.push(config.padTokenId);
          completionMask[b]?.push(0);
          logProbs[b]?.push(0);
          sequences[b]?.push(config.padTokenId);
          mask[b]?.push(0);
          continue;
        }
        const { token, logProb } = sampleToken(values.subarray(b * vocab, (b + 1) * vocab), config, rng);
        completionIds[b]?.push(token);
        completionMask[b]?.push(1);
        logProbs[b]?.push(logProb);
        sequences[b]?.push(token);
        mask[b]?.push(1);
        if (config.stopTokenIds.includes(token)) finished[b] = true;
      }
      if (finished.every(Boolean)) break;
    }
  } finally {
    disposeCache(cache);
  }
  return { sequences, attentionMask: mask, completionIds, completionMask, logProbs, finished, promptLength };
}
