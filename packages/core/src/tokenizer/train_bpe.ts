import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ConfigError } from '../errors/errors';

export interface TrainBpeOptions {
  /** Total vocabulary size including the 256 byte tokens and the special tokens (default 512). */
  vocabSize?: number;
  /** Special tokens, given the first ids in this order (default ['<|endoftext|>']). */
  specialTokens?: string[];
  /** Split numbers into single digits before BPE (default true; helps small models learn arithmetic). */
  individualDigits?: boolean;
  /** Pairs seen fewer times than this are never merged (default 2). */
  minFrequency?: number;
}

export interface TrainBpeConfig {
  readonly vocabSize: number;
  readonly specialTokens: readonly string[];
  readonly individualDigits: boolean;
  readonly minFrequency: number;
}

export function resolveTrainBpeConfig(options: TrainBpeOptions = {}): TrainBpeConfig {
  const config = {
    vocabSize: options.vocabSize ?? 512,
    specialTokens: Object.freeze([...(options.specialTokens ?? ['<|endoftext|>'])]),
    individualDigits: options.individualDigits ?? true,
    minFrequency: options.minFrequency ?? 2,
  };
  const problems: string[] = [];
  if (!Number.isInteger(config.vocabSize) || config.vocabSize < 256 + config.specialTokens.length) {
    problems.push(`vocabSize must be an integer ≥ 256 + the number of special tokens (${256 + config.specialTokens.length}), got ${config.vocabSize}`);
  }
  if (new Set(config.specialTokens).size !== config.specialTokens.length) problems.push('specialTokens must be distinct');
  if (!Number.isInteger(config.minFrequency) || config.minFrequency < 1) problems.push(`minFrequency must be a positive integer, got ${config.minFrequency}`);
  if (problems.length > 0) throw new ConfigError('trainByteLevelBpe', problems);
  return Object.freeze(config);
}

/** GPT-2's reversible map from bytes to printable unicode characters. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return table;
}

function preTokenizerJson(config: TrainBpeConfig): unknown {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return config.individualDigits ? { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel] } : byteLevel;
}

function tokenizerJson(config: TrainBpeConfig, vocab: Map<string, number>, merges: string[]): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: config.specialTokens.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: preTokenizerJson(config),
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}

/**
 * Trains a byte-level BPE tokenizer (GPT-2 style, the format `tokenizers` writes) on a corpus and returns the
 * `tokenizer.json` object. Deterministic: ties between equally frequent pairs go to the lexicographically smaller.
 * Pre-tokenization is done by the same `@huggingface/tokenizers` pre-tokenizer that will later encode, so
 * training and encoding split text identically.
 */
export function trainByteLevelBpe(corpus: Iterable<string>, options: TrainBpeOptions = {}): Record<string, unknown> {
  const config = resolveTrainBpeConfig(options);
  const vocab = new Map<string, number>();
  config.specialTokens.forEach((token) => vocab.set(token, vocab.size));
  for (const symbol of [...bytesToUnicode()].sort()) vocab.set(symbol, vocab.size);
  const splitter = new HfTokenizer(tokenizerJson(config, vocab, []), {});
  const preTokenizer = splitter.pre_tokenizer;
  if (preTokenizer === null) throw new ConfigError('trainByteLevelBpe', ['internal: pre-tokenizer missing']);

  // word (as byte symbols) → frequency
  const wordCounts = new Map<string, number>();
  for (const text of corpus) {
    for (const word of preTokenizer.pre_tokenize(text)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
  }
  const words = [...wordCounts].map(([word, count]) => ({ symbols: Array.from(word), count }));
  const merges: string[] = [];
  while (vocab.size < config.vocabSize) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [pair, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== null && pair < best)) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === null || bestCount < config.minFrequency) break;
    const [left, right] = best.split(' ') as [string, string];
    const merged = left + right;
    merges.push(best);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const word of words) {
      const next: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i + 1 < word.symbols.length && word.symbols[i] === left && word.symbols[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(word.symbols[i] as string);
      }
      word.symbols = next;
    }
  }
  return tokenizerJson(config, vocab, merges);
}
