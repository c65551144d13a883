import * as tf from '@tensorflow/tfjs';
import { generate, type CausalLM, type Tokenizer } from '@rlhfjs/core';
import { decodeCompletions, type RolloutTensors } from './rollout';

/** One sampled completion per row (for GRPO: G rows per prompt, group after group), padded to common lengths. */
export interface GroupRollout {
  /** Row r is a completion of prompt `prompts[r]`. */
  readonly prompts: string[];
  readonly completions: string[];
  /** Whether each row stopped at EOS (false: truncated at the length limit). */
  readonly finished: boolean[];
  /** Tokens per completion (EOS included). */
  readonly lengths: number[];
  /** Prompts left-padded to the longest, completions right-padded to the longest. */
  readonly sequences: number[][]; // [B·G, P + N]
  readonly attentionMask: number[][]; // [B·G, P + N]
  readonly completionMask: number[][]; // [B·G, N]
  readonly promptLength: number;
  readonly responseLength: number;
}

export interface GroupSamplingOptions {
  readonly numGenerations: number;
  readonly maxNewTokens: number;
  readonly temperature: number;
  /** Seed of group `g` (its global index over all ranks). */
  readonly seedOf: (group: number) => number;
  /** Global index of the first of these prompts' groups. */
  readonly firstGroup: number;
}

/**
 * Samples each group with its own seed (derived from its global index), so the completions of a prompt do not
 * depend on which rank or batch it lands in: N ranks × B prompts sample exactly what 1 rank × N·B does.
 */
export function sampleGroups(policy: CausalLM, tokenizer: Tokenizer, prompts: readonly string[], options: GroupSamplingOptions): GroupRollout {
  const rows = prompts.flatMap((prompt) => Array.from({ length: options.numGenerations }, () => prompt));
  return sampleChunks(policy, tokenizer, rows, { ...options, chunkSize: options.numGenerations, firstChunk: options.firstGroup });
}

export interface ChunkSamplingOptions {
  /** Rows generated together (one `generate` call, one seed); the last chunk may be shorter. */
  readonly chunkSize: number;
  readonly maxNewTokens: number;
  readonly temperature: number;
  /** Seed of chunk `c` (its global index over all ranks). */
  readonly seedOf: (chunk: number) => number;
  /** Global index of the first chunk of these rows. */
  readonly firstChunk: number;
}

/**
 * Samples one completion per row, `chunkSize` rows per `generate` call with the seed of the chunk's global index,
 * then left-pads the prompts and right-pads the completions of all chunks to common lengths. The rollout of a row
 * depends only on its chunk, not on the rank or on the other chunks.
 */
export function sampleChunks(policy: CausalLM, tokenizer: Tokenizer, rows: readonly string[], options: ChunkSamplingOptions): GroupRollout {
  const eos = tokenizer.eosTokenId;
  const chunks: Array<{ chunkRows: string[]; output: ReturnType<typeof generate> }> = [];
  for (let start = 0, chunk = options.firstChunk; start < rows.length; start += options.chunkSize, chunk += 1) {
    const chunkRows = rows.slice(start, start + options.chunkSize);
    const output = generate(policy, tokenizer.encodeBatch(chunkRows, { paddingSide: 'left' }), {
      maxNewTokens: options.maxNewTokens, doSample: true, temperature: options.temperature, seed: options.seedOf(chunk),
      padTokenId: tokenizer.padTokenId, ...(eos === null ? {} : { stopTokenIds: [eos] }),
    });
    chunks.push({ chunkRows, output });
  }
  const promptLength = Math.max(...chunks.map(({ output }) => output.promptLength));
  const responseLength = Math.max(...chunks.map(({ output }) => output.completionIds[0]?.length ?? 0));
  const pad = tokenizer.padTokenId;
  const rollout: GroupRollout = { prompts: [], completions: [], finished: [], lengths: [], sequences: [], attentionMask: [], completionMask: [], promptLength, responseLength };
  for (const { chunkRows, output } of chunks) {
    rollout.prompts.push(...chunkRows);
    rollout.completions.push(...decodeCompletions(tokenizer, output.completionIds, output.completionMask));
    rollout.finished.push(...output.finished);
    output.sequences.forEach((row, r) => {
      const left = promptLength - output.promptLength;
      const completionMask = output.completionMask[r] as number[];
      const right = responseLength - completionMask.length;
      const promptMask = (output.attentionMask[r] as number[]).slice(0, output.promptLength);
      rollout.sequences.push([...new Array<number>(left).fill(pad), ...row, ...new Array<number>(right).fill(pad)]);
      rollout.attentionMask.push([...new Array<number>(left).fill(0), ...promptMask, ...completionMask, ...new Array<number>(right).fill(0)]);
      rollout.completionMask.push([...completionMask, ...new Array<number>(right).fill(0)]);
      rollout.lengths.push(completionMask.reduce((a, b) => a + b, 0));
    });
  }
  return rollout;
}

/** The rows [start, end) of a group rollout as tensors (the caller disposes them). */
export function rolloutTensors(rollout: GroupRollout, start: number, end: number, lossMask: readonly (readonly number[])[]): RolloutTensors {
  return {
    sequences: tf.tensor2d(rollout.sequences.slice(start, end), undefined, 'int32'), // [b, P + N]
    attentionMask: tf.tensor2d(rollout.attentionMask.slice(start, end)), // [b, P + N]
    responseMask: tf.tensor2d(lossMask.slice(start, end) as number[][]), // [b, N]
    promptLength: rollout.promptLength,
    responseLength: rollout.responseLength,
  };
}
