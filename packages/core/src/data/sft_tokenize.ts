/**
 * Supervised fine-tuning examples: one record → token ids and a loss mask.
 *
 * Loss mask convention (shared by every function of the data layer): `lossMask[t] = 1` means the token at
 * position t is a training target, predicted from the logits at position t − 1. So `lossMask[0]` is always 0
 * (nothing comes before the first token), and a trainer computes the loss of logits[:, :-1] against
 * inputIds[:, 1:] weighted by lossMask[:, 1:].
 *
 * Which tokens are targets, with `completionOnlyLoss` (the default, as in TRL):
 * - language modelling `{text}`: every token.
 * - prompt–completion: the completion tokens (and the EOS appended after them), not the prompt.
 * - conversational `{messages}`: every assistant turn, each from the start of its content to the end of its
 *   rendered turn (the template's end-of-turn token included, so the model learns to stop); system, user and
 *   tool turns and the assistant header are not targets.
 * - conversational prompt–completion: everything after the prompt rendered with its generation prompt.
 * Without `completionOnlyLoss`, every token but the first is a target.
 *
 * How the prompt part is found (TRL's completion-only approach): the whole example is rendered and tokenized once;
 * each boundary is found by rendering and tokenizing the text before it — the prompt, or for a conversation the
 * messages before an assistant turn rendered with `addGenerationPrompt: true` (the start of that turn) and the
 * messages through that turn (its end). The boundary is the length of the longest common prefix of those ids
 * and the full ids. Normally the prefix's ids are a prefix of the full ids; where BPE merges a token across the
 * boundary (a prompt ending in a space before a word), the merged token counts as completion, so no prompt token
 * is ever trained on.
 *
 * Special tokens: plain text is encoded with `addSpecialTokens: true` (BOS where the tokenizer adds one); text
 * rendered by a chat template is encoded with `addSpecialTokens: false` (the template has its own). With
 * `appendEos`, plain examples end with EOS unless they already do; chat templates end each turn themselves.
 */
import { ConfigError, DataError } from '../errors/errors';
import type { ChatMessage } from './chat_message';
import { DATA_ERROR_CODES } from './data_error_codes';
import { normalizeRecord } from './parse_record';
import type { DatasetRecord } from './records';
import type { TextTokenizer } from './text_tokenizer';
import { type TruncationSide, checkLength, checkTruncationSide, truncateTokens } from './truncate';

export interface SftTokenizeOptions {
  /** Longest example in tokens, or null for no limit; default 1024 (TRL's `max_length`). */
  readonly maxLength?: number | null;
  /** Train only on completions / assistant turns; default true. */
  readonly completionOnlyLoss?: boolean;
  /** End plain-text examples with EOS; default true. */
  readonly appendEos?: boolean;
  /** Which end to cut when too long: 'right' (default, keeps the start) or 'left'. */
  readonly truncationSide?: TruncationSide;
}

export interface SftTokenizeConfig {
  readonly maxLength: number | null;
  readonly completionOnlyLoss: boolean;
  readonly appendEos: boolean;
  readonly truncationSide: TruncationSide;
}

export interface TokenizedSftExample {
  readonly inputIds: number[];
  readonly lossMask: number[];
  /** Whether tokens were cut to fit `maxLength`. */
  readonly truncated: boolean;
}

export function resolveSftTokenizeConfig(options: SftTokenizeOptions = {}): SftTokenizeConfig {
  const config = {
    maxLength: options.maxLength === undefined ? 1024 : options.maxLength,
    completionOnlyLoss: options.completionOnlyLoss ?? true,
    appendEos: options.appendEos ?? true,
    truncationSide: options.truncationSide ?? 'right',
  };
  const problems: string[] = [];
  checkLength(config.maxLength, problems, 'maxLength', { nullable: true });
  if (typeof config.completionOnlyLoss !== 'boolean') problems.push('completionOnlyLoss must be a boolean');
  if (typeof config.appendEos !== 'boolean') problems.push('appendEos must be a boolean');
  checkTruncationSide(config.truncationSide, problems);
  if (problems.length > 0) throw new ConfigError('tokenizeSftExample', problems);
  return Object.freeze(config);
}

/** A span of target tokens, given by the texts that end just before it and at its end (null: the full text). */
interface TargetSpan {
  readonly before: string;
  readonly through: string | null;
}

interface RenderedExample {
  readonly text: string;
  readonly addSpecialTokens: boolean;
  readonly plain: boolean;
  readonly targets: readonly TargetSpan[];
}

export function tokenizeSftExample(
  value: DatasetRecord,
  tokenizer: TextTokenizer,
  options: SftTokenizeOptions = {},
): TokenizedSftExample {
  const record = normalizeRecord(value);
  const config = resolveSftTokenizeConfig(options);
  const rendered = render(record, tokenizer);
  const inputIds = tokenizer.encode(rendered.text, { addSpecialTokens: rendered.addSpecialTokens });
  const lossMask = new Array<number>(inputIds.length).fill(config.completionOnlyLoss ? 0 : 1);
  if (config.completionOnlyLoss) {
    const boundaryOf = (text: string | null): number =>
      text === null
        ? inputIds.length
        : commonPrefixLength(tokenizer.encode(text, { addSpecialTokens: rendered.addSpecialTokens }), inputIds);
    for (const span of rendered.targets) {
      lossMask.fill(1, boundaryOf(span.before), boundaryOf(span.through));
    }
  }
  const eos = tokenizer.eosTokenId;
  if (rendered.plain && config.appendEos && eos !== null && inputIds[inputIds.length - 1] !== eos) {
    inputIds.push(eos);
    lossMask.push(1);
  }
  if (lossMask.length > 0) lossMask[0] = 0;
  return config.maxLength === null
    ? { inputIds, lossMask, truncated: false }
    : truncateTokens({ inputIds, lossMask }, config.maxLength, config.truncationSide);
}

function render(record: DatasetRecord, tokenizer: TextTokenizer): RenderedExample {
  switch (record.kind) {
    case 'language_modeling':
      return { text: record.text, addSpecialTokens: true, plain: true, targets: [{ before: '', through: null }] };
    case 'prompt_completion':
      switch (record.style) {
        case 'plain':
          return {
            text: record.prompt + record.completion,
            addSpecialTokens: true,
            plain: true,
            targets: [{ before: record.prompt, through: null }],
          };
        case 'conversational':
          return {
            text: tokenizer.applyChatTemplate([...record.prompt, ...record.completion]),
            addSpecialTokens: false,
            plain: false,
            targets: [
              { before: tokenizer.applyChatTemplate(record.prompt, { addGenerationPrompt: true }), through: null },
            ],
          };
        default: {
          const unreachable: never = record;
          throw new Error(`unreachable ${String(unreachable)}`);
        }
      }
    case 'conversational':
      return renderConversation(record.messages, tokenizer);
    case 'preference':
    case 'prompt_only':
      throw new DataError(
        `tokenizeSftExample: a ${record.kind} record cannot be used for SFT; use a language_modeling, ` +
          'prompt_completion or conversational record',
        {},
        { code: DATA_ERROR_CODES.unsupportedFormat },
      );
    default: {
      const unreachable: never = record;
      throw new Error(`unreachable ${String(unreachable)}`);
    }
  }
}

function renderConversation(messages: readonly ChatMessage[], tokenizer: TextTokenizer): RenderedExample {
  const targets: TargetSpan[] = [];
  messages.forEach((message, index) => {
    if (message.role !== 'assistant') return;
    targets.push({
      before: tokenizer.applyChatTemplate(messages.slice(0, index), { addGenerationPrompt: true }),
      through: index === messages.length - 1 ? null : tokenizer.applyChatTemplate(messages.slice(0, index + 1)),
    });
  });
  return { text: tokenizer.applyChatTemplate(messages), addSpecialTokens: false, plain: false, targets };
}

/** How many leading ids two sequences share. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const shortest = Math.min(a.length, b.length);
  let index = 0;
  while (index < shortest && a[index] === b[index]) index += 1;
  return index;
}
