import { DataError } from '../errors/errors';
import { type ChatMessage, CHAT_ROLES, isChatRole } from './chat_message';
import { DATA_ERROR_CODES } from './data_error_codes';
import { isDatasetFormat } from './records';
import type {
  ConversationalPreferenceRecord,
  DatasetFormat,
  DatasetRecord,
  PlainPreferenceRecord,
  PromptCompletionRecord,
  PromptOnlyRecord,
  RecordStyle,
} from './records';

/** Where a record came from, for error messages: the file and the 1-based line, or the 0-based element index in a JSON array. */
export interface RecordLocation {
  readonly file?: string;
  readonly line?: number;
  readonly element?: number;
}

export interface ParseRecordOptions extends RecordLocation {
  /** Parse as this format instead of detecting it from the record's fields. */
  readonly format?: DatasetFormat;
}

type JsonObject = Readonly<Record<string, unknown>>;

/**
 * The format of a raw record, told by which fields it has (a `null` field counts as absent, as in Hugging Face
 * exports of datasets with optional columns): `chosen`/`rejected` → preference, `messages` → conversational,
 * `completion` → prompt_completion, `text` → language_modeling, `prompt` alone → prompt_only.
 * Throws a DataError when the value is not an object or has none of these fields.
 */
export function detectFormat(value: unknown, location: RecordLocation = {}): DatasetFormat {
  const record = asObject(value, location);
  if (has(record, 'chosen') || has(record, 'rejected')) return 'preference';
  if (has(record, 'messages')) return 'conversational';
  if (has(record, 'completion')) return 'prompt_completion';
  if (has(record, 'text')) return 'language_modeling';
  if (has(record, 'prompt')) return 'prompt_only';
  const keys = Object.keys(record);
  throw new DataError(
    `detectFormat: cannot tell the record format from its fields (${keys.length === 0 ? 'none' : keys.join(', ')}); ` +
      'expected "text", "prompt" + "completion", "messages", "chosen" + "rejected", or "prompt"',
    location,
    { code: DATA_ERROR_CODES.unknownFormat },
  );
}

/**
 * A record as the tokenizers take it: a `DatasetRecord` (from `loadDataset` or `parseRecord`) passes through; a plain
 * TRL-style object (`{ prompt, completion }`, `{ prompt, chosen, rejected }`, ...) built in code is parsed, so a
 * malformed one is a DataError naming its field rather than a failure deep in tokenization.
 */
export function normalizeRecord(value: unknown, location: RecordLocation = {}): DatasetRecord {
  if (typeof value === 'object' && value !== null && isDatasetFormat((value as { kind?: unknown }).kind)) return value as DatasetRecord;
  return parseRecord(value, location);
}

/**
 * Validates a raw record (a parsed JSON value) and normalises it into a frozen `DatasetRecord`. Every problem
 * throws a DataError naming the file, line and field. Fields other than the format's are ignored.
 */
export function parseRecord(value: unknown, options: ParseRecordOptions = {}): DatasetRecord {
  const location: RecordLocation = { file: options.file, line: options.line, element: options.element };
  const format = options.format ?? detectFormat(value, location);
  const record = asObject(value, location);
  const fields = new FieldReader(record, location);
  switch (format) {
    case 'language_modeling':
      return Object.freeze({ kind: 'language_modeling', style: 'plain', text: fields.string('text') });
    case 'prompt_completion':
      return parsePromptCompletion(fields);
    case 'conversational': {
      const messages = fields.messages('messages');
      if (!messages.some((message) => message.role === 'assistant')) {
        throw fields.error('messages', 'a conversation needs at least one "assistant" message to train on', 'badValue');
      }
      return Object.freeze({ kind: 'conversational', style: 'conversational', messages });
    }
    case 'preference':
      return parsePreference(fields);
    case 'prompt_only':
      return parsePromptOnly(fields);
    default: {
      const unreachable: never = format;
      throw new DataError(`parseRecord: unknown format ${String(unreachable)}`, location, {
        code: DATA_ERROR_CODES.unknownFormat,
      });
    }
  }
}

function parsePromptCompletion(fields: FieldReader): PromptCompletionRecord {
  const style = fields.style('prompt');
  switch (style) {
    case 'plain':
      return Object.freeze({
        kind: 'prompt_completion',
        style,
        prompt: fields.string('prompt'),
        completion: fields.string('completion', 'a string, like "prompt"'),
      });
    case 'conversational':
      return Object.freeze({
        kind: 'prompt_completion',
        style,
        prompt: fields.messages('prompt'),
        completion: fields.messages('completion', 'a list of messages, like "prompt"'),
      });
    default: {
      const unreachable: never = style;
      throw new Error(`unreachable style ${String(unreachable)}`);
    }
  }
}

function parsePromptOnly(fields: FieldReader): PromptOnlyRecord {
  const style = fields.style('prompt');
  switch (style) {
    case 'plain':
      return Object.freeze({ kind: 'prompt_only', style, prompt: fields.string('prompt') });
    case 'conversational':
      return Object.freeze({ kind: 'prompt_only', style, prompt: fields.messages('prompt') });
    default: {
      const unreachable: never = style;
      throw new Error(`unreachable style ${String(unreachable)}`);
    }
  }
}

function parsePreference(fields: FieldReader): PlainPreferenceRecord | ConversationalPreferenceRecord {
  const style = fields.style('chosen');
  switch (style) {
    case 'plain': {
      const chosen = fields.string('chosen');
      const rejected = fields.string('rejected', 'a string, like "chosen"');
      if (fields.has('prompt')) {
        return Object.freeze({
          kind: 'preference',
          style,
          prompt: fields.string('prompt', 'a string, like "chosen"'),
          chosen,
          rejected,
        });
      }
      return Object.freeze({ kind: 'preference', style, ...extractPlainPrompt(chosen, rejected, fields) });
    }
    case 'conversational': {
      const chosen = fields.messages('chosen');
      const rejected = fields.messages('rejected', 'a list of messages, like "chosen"');
      if (fields.has('prompt')) {
        return Object.freeze({
          kind: 'preference',
          style,
          prompt: fields.messages('prompt', 'a list of messages, like "chosen"'),
          chosen,
          rejected,
        });
      }
      return Object.freeze({ kind: 'preference', style, ...extractConversationalPrompt(chosen, rejected, fields) });
    }
    default: {
      const unreachable: never = style;
      throw new Error(`unreachable style ${String(unreachable)}`);
    }
  }
}

/**
 * TRL's implicit prompt for plain text (`trl.data_utils.extract_prompt`): the longest common prefix of chosen and
 * rejected becomes the prompt; when the prefix ends in a space, the space moves to the completions (so "The sky is
 * blue." / "The sky is green." gives prompt "The sky is", completions " blue." / " green."). A prefix never ends in
 * the middle of a UTF-16 surrogate pair. Both completions must stay non-empty.
 */
function extractPlainPrompt(
  chosen: string,
  rejected: string,
  fields: FieldReader,
): { prompt: string; chosen: string; rejected: string } {
  const shortest = Math.min(chosen.length, rejected.length);
  let split = 0;
  while (split < shortest && chosen.charCodeAt(split) === rejected.charCodeAt(split)) split += 1;
  if (split === shortest) {
    throw fields.error(
      'chosen',
      chosen === rejected
        ? 'chosen and rejected are identical, so no prompt can be split off; give an explicit "prompt"'
        : 'one of chosen and rejected is a prefix of the other, which leaves an empty completion; give an explicit "prompt"',
      'badValue',
    );
  }
  if (split > 0 && chosen[split - 1] === ' ') split -= 1;
  const previous = chosen.charCodeAt(split - 1);
  if (split > 0 && previous >= 0xd800 && previous <= 0xdbff) split -= 1;
  return { prompt: chosen.slice(0, split), chosen: chosen.slice(split), rejected: rejected.slice(split) };
}

/**
 * TRL's implicit prompt for conversations: the leading messages that chosen and rejected share (same role and
 * content) become the prompt, the rest are the two completions. Both completions must keep at least one message.
 */
function extractConversationalPrompt(
  chosen: readonly ChatMessage[],
  rejected: readonly ChatMessage[],
  fields: FieldReader,
): { prompt: readonly ChatMessage[]; chosen: readonly ChatMessage[]; rejected: readonly ChatMessage[] } {
  const shortest = Math.min(chosen.length, rejected.length);
  let split = 0;
  while (split < shortest && sameMessage(chosen[split], rejected[split])) split += 1;
  if (split === shortest) {
    throw fields.error(
      'chosen',
      'chosen and rejected share all the messages of the shorter one, which leaves an empty completion; ' +
        'give an explicit "prompt"',
      'badValue',
    );
  }
  return {
    prompt: Object.freeze(chosen.slice(0, split)),
    chosen: Object.freeze(chosen.slice(split)),
    rejected: Object.freeze(rejected.slice(split)),
  };
}

function sameMessage(a: ChatMessage | undefined, b: ChatMessage | undefined): boolean {
  return a !== undefined && b !== undefined && a.role === b.role && a.content === b.content;
}

function asObject(value: unknown, location: RecordLocation): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataError(`expected a JSON object as the record, got ${describe(value)}`, location, {
      code: DATA_ERROR_CODES.wrongType,
    });
  }
  return value as JsonObject;
}

function has(record: JsonObject, field: string): boolean {
  return record[field] !== undefined && record[field] !== null;
}

/** Reads typed fields of one record, throwing DataErrors that name the file, line and field. */
class FieldReader {
  constructor(private readonly record: JsonObject, private readonly location: RecordLocation) {}

  has(field: string): boolean {
    return has(this.record, field);
  }

  error(field: string, message: string, code: keyof typeof DATA_ERROR_CODES): DataError {
    return new DataError(message, { ...this.location, field }, { code: DATA_ERROR_CODES[code] });
  }

  required(field: string): unknown {
    if (!this.has(field)) {
      throw this.error(field, `missing field "${field}"`, 'missingField');
    }
    return this.record[field];
  }

  string(field: string, expected = 'a string'): string {
    const value = this.required(field);
    if (typeof value !== 'string') throw this.error(field, `expected ${expected}, got ${describe(value)}`, 'wrongType');
    return value;
  }

  style(field: string): RecordStyle {
    const value = this.required(field);
    if (typeof value === 'string') return 'plain';
    if (Array.isArray(value)) return 'conversational';
    throw this.error(field, `expected a string or a list of messages, got ${describe(value)}`, 'wrongType');
  }

  messages(field: string, expected = 'a list of messages'): readonly ChatMessage[] {
    const value = this.required(field);
    if (!Array.isArray(value)) throw this.error(field, `expected ${expected}, got ${describe(value)}`, 'wrongType');
    if (value.length === 0) throw this.error(field, 'expected at least one message, got an empty list', 'badValue');
    const messages = value.map((item: unknown, index): ChatMessage => {
      const at = `${field}[${index}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw this.error(at, `expected a message object {"role", "content"}, got ${describe(item)}`, 'wrongType');
      }
      const message = item as JsonObject;
      const role = message['role'];
      const content = message['content'];
      if (role === undefined || role === null) throw this.error(`${at}.role`, 'missing field "role"', 'missingField');
      if (typeof role !== 'string') {
        throw this.error(`${at}.role`, `expected a string, got ${describe(role)}`, 'wrongType');
      }
      if (!isChatRole(role)) {
        throw this.error(
          `${at}.role`,
          `expected one of ${CHAT_ROLES.join(', ')}, got ${JSON.stringify(role)}`,
          'badValue',
        );
      }
      if (content === undefined || content === null) {
        throw this.error(`${at}.content`, 'missing field "content"', 'missingField');
      }
      if (typeof content !== 'string') {
        throw this.error(`${at}.content`, `expected a string, got ${describe(content)}`, 'wrongType');
      }
      return Object.freeze({ role, content });
    });
    return Object.freeze(messages);
  }
}

/** A short description of a JSON value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
    case 'boolean':
      return `the ${typeof value} ${String(value)}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}
