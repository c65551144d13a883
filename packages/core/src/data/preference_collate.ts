import { ConfigError } from '../errors/errors';
import type { PaddingSide } from './collate';

/** One tokenized preference pair; `promptIds` absent (or empty) when each side already holds the whole sequence. */
export interface TokenizedPreferencePair {
  readonly promptIds?: readonly number[];
  readonly chosenIds: readonly number[];
  readonly rejectedIds: readonly number[];
  /** TRL's optional per-pair margin (reward modelling). */
  readonly margin?: number;
}

export interface PreferenceCollateOptions {
  readonly padTokenId: number;
  /** Default 'right'. */
  readonly paddingSide?: PaddingSide;
}

/**
 * B pairs as one padded [2B, T] batch, as TRL's preference collators build it: rows 0…B−1 are prompt + chosen,
 * rows B…2B−1 prompt + rejected, so both sides go through one forward pass.
 */
export interface CollatedPreferencePairs {
  readonly pairCount: number;
  readonly inputIds: number[][]; // [2B, T]
  readonly attentionMask: number[][]; // [2B, T]
  /** 1 where token t belongs to the completion and has a predecessor (a target predicted from t − 1). [2B, T] */
  readonly lossMask: number[][];
  /** Completion tokens carrying loss, of each chosen / rejected row. [B] each */
  readonly chosenLengths: number[];
  readonly rejectedLengths: number[];
  /** Per-pair margins [B], or null when no pair has one (missing margins count as 0). */
  readonly margins: Float32Array | null;
}

/** The one preference collator: DPO's concatenated batch and the reward model's [2B, T] batch. */
export function collatePreferencePairs(pairs: readonly TokenizedPreferencePair[], options: PreferenceCollateOptions): CollatedPreferencePairs {
  const { padTokenId, paddingSide = 'right' } = options;
  const problems: string[] = [];
  if (!Number.isSafeInteger(padTokenId) || padTokenId < 0) problems.push(`padTokenId must be a non-negative integer, got ${String(padTokenId)}`);
  if (paddingSide !== 'left' && paddingSide !== 'right') problems.push(`paddingSide must be "left" or "right", got ${JSON.stringify(paddingSide)}`);
  if (problems.length > 0) throw new ConfigError('collatePreferencePairs', problems);
  const rows = [
    ...pairs.map((pair) => ({ prompt: pair.promptIds ?? [], completion: pair.chosenIds })),
    ...pairs.map((pair) => ({ prompt: pair.promptIds ?? [], completion: pair.rejectedIds })),
  ];
  const width = Math.max(2, ...rows.map((row) => row.prompt.length + row.completion.length));
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const lossMask: number[][] = [];
  for (const { prompt, completion } of rows) {
    const length = prompt.length + completion.length;
    const padding = new Array<number>(width - length).fill(0);
    const ids = [...prompt, ...completion];
    // The first token of a row has no predecessor, so it never carries loss.
    const mask = ids.map((_, position) => (position >= prompt.length ? 1 : 0));
    const left = paddingSide === 'left';
    inputIds.push(left ? [...padding.map(() => padTokenId), ...ids] : [...ids, ...padding.map(() => padTokenId)]);
    attentionMask.push(left ? [...padding, ...ids.map(() => 1)] : [...ids.map(() => 1), ...padding]);
    const rowLoss = left ? [...padding, ...mask] : [...mask, ...padding];
    rowLoss[0] = 0;
    lossMask.push(rowLoss);
  }
  const completionTokens = lossMask.map((row) => row.reduce((sum, value) => sum + value, 0));
  return {
    pairCount: pairs.length,
    inputIds,
    attentionMask,
    lossMask,
    chosenLengths: completionTokens.slice(0, pairs.length),
    rejectedLengths: completionTokens.slice(pairs.length),
    margins: pairs.some((pair) => pair.margin !== undefined) ? Float32Array.from(pairs, (pair) => pair.margin ?? 0) : null,
  };
}
