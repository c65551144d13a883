import {
  collatePreferencePairs,
  ConfigError,
  DataError,
  normalizeRecord,
  tokenizePreferenceExample,
  type ChatMessage,
  type CollatedPreferencePairs,
  type PaddingSide,
  type TextTokenizer,
} from '@rlhfjs/core';

/** Plain text, or chat messages rendered with the tokenizer's chat template. */
export type PreferenceText = string | readonly ChatMessage[];

/**
 * One preference pair in TRL's formats: explicit prompt (`prompt` + `chosen`/`rejected` completions) or implicit
 * prompt (`chosen`/`rejected` hold the whole text or conversation). Core's `PreferenceRecord` fits this shape.
 * `margin` is TRL's optional per-pair margin.
 */
export interface PreferenceExample {
  readonly prompt?: PreferenceText;
  readonly chosen: PreferenceText;
  readonly rejected: PreferenceText;
  readonly margin?: number;
}

/** What tokenizing pairs needs from a tokenizer: core's `TextTokenizer` (core's `Tokenizer` has it). */
export type PreferenceTokenizer = TextTokenizer;

/** A pair as the reward model sees it: two whole sequences (prompt included). */
export interface TokenizedPair {
  readonly chosenIds: readonly number[];
  readonly rejectedIds: readonly number[];
  readonly margin?: number;
}

export interface TokenizePreferenceOptions {
  /** Pairs with a side longer than this are dropped, as TRL's RewardTrainer filters them (default 1024; null = no limit). */
  maxLength?: number | null;
}

export interface TokenizedPreferences {
  readonly pairs: TokenizedPair[];
  /** Pairs dropped because chosen and rejected tokenize identically (no preference to learn). */
  readonly skippedIdenticalPairs: number;
  /** Pairs dropped because a side is longer than `maxLength`. */
  readonly skippedTooLong: number;
  /** Indices (in the input) of the identical pairs. */
  readonly identicalIndices: readonly number[];
}

/**
 * Tokenizes preference pairs with core's `tokenizePreferenceExample` (the one preference tokenizer, shared with DPO):
 * an explicit or implicit prompt (TRL's `extract_prompt`), plain text or conversations through the chat template,
 * completions ending with EOS. The reward model reads each side whole, so each side is prompt + completion ids.
 * As TRL's RewardTrainer filters its dataset (trl/trainer/reward_trainer.py), pairs with a side over `maxLength`
 * tokens are dropped (not truncated), and pairs whose sides are identical token for token are dropped and counted
 * (they carry no preference and would only pull the rewards to a tie).
 */
export function tokenizePreferencePairs(examples: readonly PreferenceExample[], tokenizer: PreferenceTokenizer, options: TokenizePreferenceOptions = {}): TokenizedPreferences {
  const maxLength = options.maxLength === undefined ? 1024 : options.maxLength;
  if (maxLength !== null && !(Number.isSafeInteger(maxLength) && maxLength > 0)) {
    throw new ConfigError('tokenizePreferencePairs', [`maxLength must be a positive integer or null, got ${maxLength}`]);
  }
  const pairs: TokenizedPair[] = [];
  const identicalIndices: number[] = [];
  let skippedTooLong = 0;
  examples.forEach((example, index) => {
    if (example.margin !== undefined && !Number.isFinite(example.margin)) {
      throw new DataError(`tokenizePreferencePairs: pair ${index} has margin ${example.margin}; it must be a finite number`, { element: index, field: 'margin' });
    }
    const { prompt, chosen, rejected } = example;
    const record = normalizeRecord(prompt === undefined ? { chosen, rejected } : { prompt, chosen, rejected }, { element: index });
    const tokenized = tokenizePreferenceExample(record, tokenizer, { maxLength: null, maxPromptLength: null });
    const chosenIds = [...tokenized.promptIds, ...tokenized.chosenIds];
    const rejectedIds = [...tokenized.promptIds, ...tokenized.rejectedIds];
    if (maxLength !== null && (chosenIds.length > maxLength || rejectedIds.length > maxLength)) {
      skippedTooLong += 1;
      return;
    }
    if (chosenIds.length === rejectedIds.length && chosenIds.every((id, position) => id === rejectedIds[position])) {
      identicalIndices.push(index);
      return;
    }
    pairs.push(example.margin === undefined ? { chosenIds, rejectedIds } : { chosenIds, rejectedIds, margin: example.margin });
  });
  return { pairs, skippedIdenticalPairs: identicalIndices.length, skippedTooLong, identicalIndices };
}

/** The reward model's [2B, T] batch: rows 0..B−1 the chosen sides, rows B..2B−1 the rejected ones; core's collated pairs. */
export type PreferenceBatch = CollatedPreferencePairs;

/** Concatenates chosen then rejected sides into one padded [2B, T] batch (core's `collatePreferencePairs`). */
export function collatePreferenceBatch(pairs: readonly TokenizedPair[], padTokenId: number, paddingSide: PaddingSide = 'right'): PreferenceBatch {
  return collatePreferencePairs(pairs, { padTokenId, paddingSide });
}
