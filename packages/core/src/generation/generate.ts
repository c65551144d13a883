import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '../errors/errors';
import type { CausalLM } from '../model/causal_lm';
import { createKVCache, disposeCache, selectCacheRows, type KVCache } from '../model/kv_cache';
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
 * seeded, stopping each row at its stop token. Greedy decoding with the cache equals decoding without it. The cache
 * is preallocated to the final length and written in place each step (where the backend allows); a row that has
 * stopped leaves the batch, so it costs nothing in later steps.
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
  // Rows still generating (indices into the batch): finished rows leave the forward pass and the cache.
  let active = Array.from({ length: batch }, (_, b) => b);
  // Preallocated to the last position ever fed (prompt + all new tokens but the last): no concat per token.
  let cache: KVCache | null = config.useCache ? createKVCache(model.config, batch, promptLength + config.maxNewTokens - 1 || 1) : null;
  const vocab = model.config.vocabSize;
  try {
    for (let step = 0; step < config.maxNewTokens; step++) {
      const useCached = cache !== null && cache.length > 0;
      const feedIds = active.map((b) => {
        const row = sequences[b] as number[];
        return useCached ? [row[row.length - 1] as number] : row;
      });
      const inputIds = tf.tensor2d(feedIds, undefined, 'int32'); // [B', 1] or [B', S]
      const attentionMask = tf.tensor2d(active.map((b) => mask[b] as number[]), undefined, 'int32'); // [B', S]
      let output;
      try {
        output = model.forward({ inputIds, attentionMask, cache, useCache: config.useCache, logits: 'last' });
      } finally {
        tf.dispose([inputIds, attentionMask]);
      }
      disposeCache(cache);
      cache = output.cache;
      output.hiddenStates.dispose();
      const logits = output.logits as tf.Tensor3D; // [B', 1, V]
      const values = logits.dataSync() as Float32Array;
      logits.dispose();
      const sampled = new Map<number, { token: number; logProb: number }>();
      active.forEach((b, i) => sampled.set(b, sampleToken(values.subarray(i * vocab, (i + 1) * vocab), config, rng)));
      for (let b = 0; b < batch; b++) {
        const drawn = sampled.get(b);
        const token = drawn === undefined ? config.padTokenId : drawn.token;
        completionIds[b]?.push(token);
        completionMask[b]?.push(drawn === undefined ? 0 : 1);
        logProbs[b]?.push(drawn === undefined ? 0 : drawn.logProb);
        sequences[b]?.push(token);
        mask[b]?.push(drawn === undefined ? 0 : 1);
        if (drawn !== undefined && config.stopTokenIds.includes(token)) finished[b] = true;
      }
      const stillActive = active.filter((b) => !finished[b]);
      if (stillActive.length === 0) break;
      if (stillActive.length < active.length && cache !== null) {
        const kept = selectCacheRows(cache, stillActive.map((b) => active.indexOf(b)));
        disposeCache(cache);
        cache = kept;
      }
      active = stillActive;
    }
  } finally {
    disposeCache(cache);
  }
  return { sequences, attentionMask: mask, completionIds, completionMask, logProbs, finished, promptLength };
}
