/**
 * Prompts alone, for generation (PPO rollouts, evaluation). Plain prompts are encoded with the tokenizer's special
 * tokens (BOS where it adds one); message prompts are rendered with the chat template and its generation prompt
 * (`addGenerationPrompt: true`) and encoded without. Too-long prompts keep their last `maxPromptLength` tokens
 * (the end of a prompt is what the completion follows on from), as TRL does.
 */
import { ConfigError, DataError } from '../errors/errors';
import type { ChatMessage } from './chat_message';
import { DATA_ERROR_CODES } from './data_error_codes';
import type { DatasetRecord } from './records';
import type { TextTokenizer } from './text_tokenizer';
import { checkLength } from './truncate';

export interface PromptTokenizeOptions {
  /** Longest prompt in tokens (the last ones are kept), or null for no limit; default 512. */
  readonly maxPromptLength?: number | null;
}

export interface PromptTokenizeConfig {
  readonly maxPromptLength: number | null;
}

export interface TokenizedPrompt {
  readonly promptIds: number[];
  readonly truncated: boolean;
}

export function resolvePromptTokenizeConfig(options: PromptTokenizeOptions = {}): PromptTokenizeConfig {
  const config = { maxPromptLength: options.maxPromptLength === undefined ? 512 : options.maxPromptLength };
  const problems: string[] = [];
  checkLength(config.maxPromptLength, problems, 'maxPromptLength', { nullable: true });
  if (problems.length > 0) throw new ConfigError('tokenizePromptExample', problems);
  return Object.freeze(config);
}

/**
 * The prompt of a prompt_only, prompt_completion or preference record, or of a conversation (the messages before
 * its last assistant message), as token ids ready for generation.
 */
export function tokenizePromptExample(
  record: DatasetRecord,
  tokenizer: TextTokenizer,
  options: PromptTokenizeOptions = {},
): TokenizedPrompt {
  const { maxPromptLength } = resolvePromptTokenizeConfig(options);
  const promptIds = encodePrompt(promptOf(record), tokenizer);
  if (maxPromptLength === null || promptIds.length <= maxPromptLength) return { promptIds, truncated: false };
  return { promptIds: promptIds.slice(promptIds.length - maxPromptLength), truncated: true };
}

/** Token ids of a plain prompt (with the tokenizer's special tokens) or of messages (chat template + generation prompt). */
export function encodePrompt(prompt: string | readonly ChatMessage[], tokenizer: TextTokenizer): number[] {
  return typeof prompt === 'string'
    ? tokenizer.encode(prompt, { addSpecialTokens: true })
    : tokenizer.encode(tokenizer.applyChatTemplate(prompt, { addGenerationPrompt: true }), { addSpecialTokens: false });
}

function promptOf(record: DatasetRecord): string | readonly ChatMessage[] {
  switch (record.kind) {
    case 'prompt_only':
    case 'prompt_completion':
    case 'preference':
      return record.prompt;
    case 'conversational': {
      const lastAssistant = record.messages.map((message) => message.role).lastIndexOf('assistant');
      return record.messages.slice(0, lastAssistant);
    }
    case 'language_modeling':
      throw new DataError(
        'tokenizePromptExample: a language_modeling record has no prompt; use prompt_only, prompt_completion, ' +
          'preference or conversational records',
        {},
        { code: DATA_ERROR_CODES.unsupportedFormat },
      );
    default: {
      const unreachable: never = record;
      throw new Error(`unreachable ${String(unreachable)}`);
    }
  }
}
