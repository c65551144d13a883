/**
 * Padding a list of tokenized examples into one rectangular batch of plain arrays (the trainer makes tensors).
 *
 * Conventions, for every row of length T:
 * - inputIds: the tokens, `padTokenId` in the padding.
 * - attentionMask: 1 on real tokens, 0 on padding.
 * - lossMask: 1 where the token is a target predicted from position t − 1 (see `sft_tokenize.ts`); 0 on padding.
 * - positionIds: 0, 1, 2, … over the real tokens whichever side the padding is on (so a left-padded prompt starts
 *   at position 0, as Hugging Face's `cumsum(attention_mask) − 1` gives); 0 on padding.
 * Left padding is for generation (prompts end at the same column); right padding for training.
 */
import { ConfigError, ShapeError } from '../errors/errors';
import { type TruncationSide, checkLength, checkTruncationSide, truncateTokens } from './truncate';

export type PaddingSide = 'right' | 'left';

export interface CollateExample {
  readonly inputIds: readonly number[];
  /** Defaults to every token but the first being a target. */
  readonly lossMask?: readonly number[];
}

export interface CollateOptions {
  /** The id written into padding; required (use the tokenizer's `padTokenId`). */
  readonly padTokenId: number;
  /** Default 'right'. */
  readonly paddingSide?: PaddingSide;
  /** Round the padded length up to a multiple of this (for kernels that like aligned shapes); default null. */
  readonly padToMultipleOf?: number | null;
  /** Cut longer examples to this many tokens; default null (no limit). Must be a multiple of padToMultipleOf. */
  readonly maxLength?: number | null;
  /** Which end to cut when an example is longer than maxLength; default 'right'. */
  readonly truncationSide?: TruncationSide;
}

export interface CollateConfig {
  readonly padTokenId: number;
  readonly paddingSide: PaddingSide;
  readonly padToMultipleOf: number | null;
  readonly maxLength: number | null;
  readonly truncationSide: TruncationSide;
}

/** A padded batch, every array [B, T]. */
export interface CollatedBatch {
  readonly inputIds: number[][];
  readonly attentionMask: number[][];
  readonly lossMask: number[][];
  readonly positionIds: number[][];
}

export function resolveCollateConfig(options: CollateOptions): CollateConfig {
  const config = {
    padTokenId: options.padTokenId,
    paddingSide: options.paddingSide ?? 'right',
    padToMultipleOf: options.padToMultipleOf ?? null,
    maxLength: options.maxLength ?? null,
    truncationSide: options.truncationSide ?? 'right',
  };
  const problems: string[] = [];
  if (!Number.isSafeInteger(config.padTokenId) || config.padTokenId < 0) {
    problems.push(`padTokenId must be a non-negative integer, got ${String(config.padTokenId)}`);
  }
  if (config.paddingSide !== 'right' && config.paddingSide !== 'left') {
    problems.push(`paddingSide must be "right" or "left", got ${JSON.stringify(config.paddingSide)}`);
  }
  checkLength(config.padToMultipleOf, problems, 'padToMultipleOf', { nullable: true });
  checkLength(config.maxLength, problems, 'maxLength', { nullable: true });
  checkTruncationSide(config.truncationSide, problems);
  if (config.maxLength !== null && config.padToMultipleOf !== null && config.maxLength % config.padToMultipleOf !== 0) {
    problems.push(`maxLength (${config.maxLength}) must be a multiple of padToMultipleOf (${config.padToMultipleOf})`);
  }
  if (problems.length > 0) throw new ConfigError('collateBatch', problems);
  return Object.freeze(config);
}

export function collateBatch(examples: readonly CollateExample[], options: CollateOptions): CollatedBatch {
  const config = resolveCollateConfig(options);
  const rows = examples.map((example, index) => {
    const lossMask = example.lossMask ?? example.inputIds.map((_, position) => (position === 0 ? 0 : 1));
    if (lossMask.length !== example.inputIds.length) {
      throw new ShapeError(
        `collateBatch: example ${index} has ${example.inputIds.length} inputIds but ${lossMask.length} lossMask entries`,
      );
    }
    const tokens = { inputIds: example.inputIds, lossMask };
    return config.maxLength === null
      ? { inputIds: [...tokens.inputIds], lossMask: [...tokens.lossMask] }
      : truncateTokens(tokens, config.maxLength, config.truncationSide);
  });
  const longest = rows.reduce((length, row) => Math.max(length, row.inputIds.length), 0);
  const width =
    config.padToMultipleOf === null ? longest : Math.ceil(longest / config.padToMultipleOf) * config.padToMultipleOf;

  const batch: CollatedBatch = { inputIds: [], attentionMask: [], lossMask: [], positionIds: [] };
  for (const row of rows) {
    const length = row.inputIds.length;
    const padding = width - length;
    const padded = <T>(real: readonly T[], fill: T): T[] => {
      const pad = new Array<T>(padding).fill(fill);
      return config.paddingSide === 'right' ? [...real, ...pad] : [...pad, ...real];
    };
    batch.inputIds.push(padded(row.inputIds, config.padTokenId)); // [B, T]
    batch.attentionMask.push(padded(new Array<number>(length).fill(1), 0)); // [B, T]
    batch.lossMask.push(padded(row.lossMask, 0)); // [B, T]
    batch.positionIds.push(
      padded(
        Array.from({ length }, (_, position) => position),
        0,
      ),
    ); // [B, T]
  }
  return batch;
}
