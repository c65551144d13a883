/**
 * Preference pairs → prompt, chosen and rejected token ids, as TRL's DPO and reward trainers prepare them.
 *
 * - Plain text: the prompt is encoded with the tokenizer's special tokens (BOS where it adds one), each completion
 *   without, and each completion ends with EOS (unless it already does).
 * - Messages: the prompt is rendered with the chat template and its generation prompt; each completion is the text
 *   the template adds after that when rendering prompt + completion (where the generation prompt is not a prefix of
 *   the full rendering, as with templates that open a `<think>` block, the prompt is cut back to the longest common
 *   prefix of the three renderings, as TRL does); all encoded without special tokens, completions ending with EOS.
 * - Truncation: the prompt keeps its last `maxPromptLength` tokens; then each completion keeps its first
 *   `maxLength − prompt` tokens (which may cut its EOS, as in TRL).
 */
import { ConfigError, DataError } from '../errors/errors';
import type { ChatMessage } from './chat_message';
import { DATA_ERROR_CODES } from './data_error_codes';
import { normalizeRecord } from './parse_record';
import type { DatasetRecord } from './records';
import type { TextTokenizer } from './text_tokenizer';
import { checkLength } from './truncate';

export interface PreferenceTokenizeOptions {
  /** Longest prompt + completion in tokens, or null for no limit; default 1024 (TRL's DPO `max_length`). */
  readonly maxLength?: number | null;
  /** Longest prompt in tokens (the last ones are kept), or null for no limit; default 512 (TRL's `max_prompt_length`). */
  readonly maxPromptLength?: number | null;
}

export interface PreferenceTokenizeConfig {
  readonly maxLength: number | null;
  readonly maxPromptLength: number | null;
}

export interface TokenizedPreferenceExample {
  readonly promptIds: number[];
  readonly chosenIds: number[];
  readonly rejectedIds: number[];
  /** Whether any part was cut to fit. */
  readonly truncated: boolean;
}

export function resolvePreferenceTokenizeConfig(options: PreferenceTokenizeOptions = {}): PreferenceTokenizeConfig {
  const config = {
    maxLength: options.maxLength === undefined ? 1024 : options.maxLength,
    maxPromptLength: options.maxPromptLength === undefined ? 512 : options.maxPromptLength,
  };
  const problems: string[] = [];
  checkLength(config.maxLength, problems, 'maxLength', { nullable: true });
  checkLength(config.maxPromptLength, problems, 'maxPromptLength', { nullable: true });
  if (
    problems.length === 0 &&
    config.maxLength !== null &&
    config.maxPromptLength !== null &&
    config.maxPromptLength >= config.maxLength
  ) {
    problems.push(`maxPromptLength (${config.maxPromptLength}) must be less than maxLength (${config.maxLength})`);
  }
  if (problems.length > 0) throw new ConfigError('tokenizePreferenceExample', problems);
  return Object.freeze(config);
}

export function tokenizePreferenceExample(
  value: DatasetRecord,
  tokenizer: TextTokenizer,
  options: PreferenceTokenizeOptions = {},
): TokenizedPreferenceExample {
  const record = normalizeRecord(value);
  const config = resolvePreferenceTokenizeConfig(options);
  if (record.kind !== 'preference') {
    throw new DataError(
      `tokenizePreferenceExample: expected a preference record, got ${record.kind}`,
      {},
      {
        code: DATA_ERROR_CODES.unsupportedFormat,
      },
    );
  }
  const parts =
    record.style === 'plain'
      ? {
          promptIds: tokenizer.encode(record.prompt, { addSpecialTokens: true }),
          chosenText: record.chosen,
          rejectedText: record.rejected,
        }
      : renderConversationalPair(record.prompt, record.chosen, record.rejected, tokenizer);
  const withEos = (text: string): number[] => {
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    const eos = tokenizer.eosTokenId;
    if (eos !== null && ids[ids.length - 1] !== eos) ids.push(eos);
    return ids;
  };
  let promptIds = parts.promptIds;
  let chosenIds = withEos(parts.chosenText);
  let rejectedIds = withEos(parts.rejectedText);
  let truncated = false;

  if (config.maxPromptLength !== null && promptIds.length > config.maxPromptLength) {
    promptIds = promptIds.slice(promptIds.length - config.maxPromptLength);
    truncated = true;
  }
  if (config.maxLength !== null) {
    const budget = config.maxLength - promptIds.length;
    if (budget < 1) {
      throw new DataError(
        `tokenizePreferenceExample: the prompt has ${promptIds.length} tokens, which leaves no room for a completion ` +
          `within maxLength ${config.maxLength}; set maxPromptLength below maxLength`,
        { field: 'prompt' },
        { code: DATA_ERROR_CODES.badValue },
      );
    }
    if (chosenIds.length > budget || rejectedIds.length > budget) {
      chosenIds = chosenIds.slice(0, budget);
      rejectedIds = rejectedIds.slice(0, budget);
      truncated = true;
    }
  }
  return { promptIds, chosenIds, rejectedIds, truncated };
}

function renderConversationalPair(
  prompt: readonly ChatMessage[],
  chosen: readonly ChatMessage[],
  rejected: readonly ChatMessage[],
  tokenizer: TextTokenizer,
): { promptIds: number[]; chosenText: string; rejectedText: string } {
  const promptText = tokenizer.applyChatTemplate(prompt, { addGenerationPrompt: true });
  const chosenFull = tokenizer.applyChatTemplate([...prompt, ...chosen]);
  const rejectedFull = tokenizer.applyChatTemplate([...prompt, ...rejected]);
  const shared = Math.min(
    commonStringPrefixLength(promptText, chosenFull),
    commonStringPrefixLength(promptText, rejectedFull),
  );
  return {
    promptIds: tokenizer.encode(promptText.slice(0, shared), { addSpecialTokens: false }),
    chosenText: chosenFull.slice(shared),
    rejectedText: rejectedFull.slice(shared),
  };
}

function commonStringPrefixLength(a: string, b: string): number {
  const shortest = Math.min(a.length, b.length);
  let index = 0;
  while (index < shortest && a.charCodeAt(index) === b.charCodeAt(index)) index += 1;
  return index;
}
