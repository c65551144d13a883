import type { ChatMessage } from './chat_message';

/**
 * The record formats of TRL's dataset guide, normalised into one tagged union. `kind` is the format; `style` says
 * whether the text fields are plain strings or lists of chat messages (rendered later with the chat template).
 *
 * On disk (JSON Lines or a JSON array) the records look as TRL users already have them:
 *   language_modeling  {"text": "..."}
 *   prompt_completion  {"prompt": "...", "completion": "..."}          (or both as message lists)
 *   conversational     {"messages": [{"role": "user", "content": "..."}, ...]}
 *   preference         {"prompt"?: "...", "chosen": "...", "rejected": "..."}   (or all as message lists; without
 *                      "prompt" the shared prefix of chosen and rejected becomes the prompt, TRL's implicit prompt)
 *   prompt_only        {"prompt": "..."}                                 (or a message list)
 * Other fields of a record are ignored.
 */
export const DATASET_FORMATS = Object.freeze([
  'language_modeling',
  'prompt_completion',
  'conversational',
  'preference',
  'prompt_only',
] as const);

export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export type RecordStyle = 'plain' | 'conversational';

export interface LanguageModelingRecord {
  readonly kind: 'language_modeling';
  readonly style: 'plain';
  readonly text: string;
}

export interface PlainPromptCompletionRecord {
  readonly kind: 'prompt_completion';
  readonly style: 'plain';
  readonly prompt: string;
  readonly completion: string;
}

export interface ConversationalPromptCompletionRecord {
  readonly kind: 'prompt_completion';
  readonly style: 'conversational';
  readonly prompt: readonly ChatMessage[];
  readonly completion: readonly ChatMessage[];
}

export interface ConversationalRecord {
  readonly kind: 'conversational';
  readonly style: 'conversational';
  readonly messages: readonly ChatMessage[];
}

export interface PlainPreferenceRecord {
  readonly kind: 'preference';
  readonly style: 'plain';
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
}

export interface ConversationalPreferenceRecord {
  readonly kind: 'preference';
  readonly style: 'conversational';
  readonly prompt: readonly ChatMessage[];
  readonly chosen: readonly ChatMessage[];
  readonly rejected: readonly ChatMessage[];
}

export interface PlainPromptOnlyRecord {
  readonly kind: 'prompt_only';
  readonly style: 'plain';
  readonly prompt: string;
}

export interface ConversationalPromptOnlyRecord {
  readonly kind: 'prompt_only';
  readonly style: 'conversational';
  readonly prompt: readonly ChatMessage[];
}

export type PromptCompletionRecord = PlainPromptCompletionRecord | ConversationalPromptCompletionRecord;
export type PreferenceRecord = PlainPreferenceRecord | ConversationalPreferenceRecord;
export type PromptOnlyRecord = PlainPromptOnlyRecord | ConversationalPromptOnlyRecord;

export type DatasetRecord =
  | LanguageModelingRecord
  | PromptCompletionRecord
  | ConversationalRecord
  | PreferenceRecord
  | PromptOnlyRecord;

/** The records a supervised fine-tuning step can train on. */
export type SftRecord = LanguageModelingRecord | PromptCompletionRecord | ConversationalRecord;

export function isDatasetFormat(value: unknown): value is DatasetFormat {
  return typeof value === 'string' && (DATASET_FORMATS as readonly string[]).includes(value);
}
