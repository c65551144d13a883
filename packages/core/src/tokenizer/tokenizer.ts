import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { ChatMessage } from '../data/chat_message';
import type { PaddingSide } from '../data/collate';
import { TokenizerError } from '../errors/errors';
import { writeFileAtomic } from '../io/atomic_write';
import { CHAT_TEMPLATE_FILE, readChatTemplateFile, selectChatTemplate } from './chat_template_files';
import { renderBoundedTemplate, resolveTemplateLimitConfig, type TemplateLimitOptions } from './bounded_template';
import { validateTokenizerConfig } from './validate_tokenizer_config';
import { validateTokenizerJson } from './validate_tokenizer_json';


export interface BatchEncodeOptions {
  /** Default: the tokenizer config's `padding_side`, else 'right'. Generation wants 'left'. */
  paddingSide?: PaddingSide;
  /** Truncate every sequence to this many tokens (from `truncationSide`). */
  maxLength?: number;
  /** Default 'right'. */
  truncationSide?: PaddingSide;
  /** Default true: the tokenizer's post-processor adds its special tokens. */
  addSpecialTokens?: boolean;
  padToMultipleOf?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
}

function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) over `@huggingface/tokenizers`, with
 * chat templates rendered by `@huggingface/jinja`. The pad token falls back to EOS, as TRL does.
 */
export class Tokenizer {
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number;
  readonly vocabSize: number;
  readonly paddingSide: PaddingSide;
  readonly chatTemplate: string | null;
  private readonly tokenizer: HfTokenizer;
  private readonly specialTokens: Readonly<Record<string, string>>;
  private readonly compiledTemplate: Template | null;
  /** Names the template in errors. */
  private readonly chatTemplateName: string;
  /** The two files as read, so `save` writes them back unchanged. */
  readonly files: { readonly tokenizer: unknown; readonly config: Readonly<Record<string, unknown>> };

  constructor(tokenizerJson: unknown, config: Record<string, unknown>, source = 'tokenizer') {
    validateTokenizerJson(tokenizerJson, `${source}/tokenizer.json`);
    validateTokenizerConfig(config, `${source}/tokenizer_config.json`);
    this.chatTemplateName = `${source}/tokenizer_config.json (chat_template)`;
    try {
      this.tokenizer = new HfTokenizer(tokenizerJson as object, config);
    } catch (error) {
      throw new TokenizerError(`Tokenizer: ${source}/tokenizer.json cannot be loaded: ${(error as Error).message}`, { cause: error });
    }
    this.files = { tokenizer: tokenizerJson, config: Object.freeze({ ...config }) };
    const idOf = (key: string): number | null => {
      const content = tokenContent(config[key]);
      if (content === null) return null;
      const id = this.tokenizer.token_to_id(content);
      if (id === undefined) throw new TokenizerError(`Tokenizer: ${source}/tokenizer_config.json names ${key} "${content}", which is not in the vocabulary`);
      return id;
    };
    this.bosTokenId = idOf('bos_token');
    this.eosTokenId = idOf('eos_token');
    const pad = idOf('pad_token') ?? this.eosTokenId;
    if (pad === null) throw new TokenizerError(`Tokenizer: ${source} has neither a pad_token nor an eos_token to pad with`);
    this.padTokenId = pad;
    const vocabulary = this.tokenizer.get_vocab(true);
    this.vocabSize = vocabulary.size;
    // Ids must run from 0 without large holes (added tokens may extend the vocabulary): a model sized from the
    // vocabulary could not embed an id of 2^40.
    const addedIds = ((tokenizerJson as { added_tokens?: Array<{ id: number }> }).added_tokens ?? []).map((token) => token.id);
    let largest = -1;
    for (const id of [...vocabulary.values(), ...addedIds]) largest = Math.max(largest, id);
    const limit = this.vocabSize + addedIds.length;
    if (largest >= limit) {
      throw new TokenizerError(
        `Tokenizer: ${source}/tokenizer.json has ${this.vocabSize} tokens and ${addedIds.length} added tokens but an id of ${largest}; ids must be below ${limit}`,
      );
    }
    this.paddingSide = config['padding_side'] === 'left' ? 'left' : 'right'; // validated above
    const special: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const content = tokenContent(config[key]);
      if (content !== null) special[key] = content;
    }
    this.specialTokens = Object.freeze(special);
    this.chatTemplate = selectChatTemplate(config['chat_template'], `Tokenizer: ${source}/tokenizer_config.json`);
    try {
      this.compiledTemplate = this.chatTemplate === null ? null : new Template(this.chatTemplate);
    } catch (error) {
      throw new TokenizerError(`Tokenizer: ${source}/tokenizer_config.json has a chat_template that does not parse: ${(error as Error).message}`, { cause: error });
    }
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** Text of the ids; `[]` decodes to `''`, as transformers' `decode([])` does. */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`Tokenizer.decode: id ${id} is outside the vocabulary of ${this.vocabSize}`);
      }
    }
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** Encodes and pads a batch; `attentionMask` is 1 on real tokens. */
  encodeBatch(texts: readonly string[], options: BatchEncodeOptions = {}): BatchEncoding {
    const side = options.paddingSide ?? this.paddingSide;
    const sequences = texts.map((text) => {
      const ids = this.encode(text, { addSpecialTokens: options.addSpecialTokens });
      if (options.maxLength === undefined || ids.length <= options.maxLength) return ids;
      return options.truncationSide === 'left' ? ids.slice(ids.length - options.maxLength) : ids.slice(0, options.maxLength);
    });
    return padSequences(sequences, this.padTokenId, side, options.padToMultipleOf);
  }

  /**
   * Renders messages with the config's `chat_template` (jinja), as transformers' `apply_chat_template(tokenize=False)`,
   * under `limits` (steps and output size); any failure, `raise_exception` included, is a TokenizerError naming the
   * template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean; limits?: TemplateLimitOptions } = {}): string {
    if (this.compiledTemplate === null) {
      throw new TokenizerError('Tokenizer.applyChatTemplate: tokenizer_config.json has no chat_template');
    }
    const context = {
      messages: messages.map((message) => ({ role: message.role, content: message.content })),
      add_generation_prompt: options.addGenerationPrompt ?? false,
      ...this.specialTokens,
    };
    return renderBoundedTemplate(this.compiledTemplate, context, this.chatTemplateName, resolveTemplateLimitConfig(options.limits));
  }

  /**
   * Writes `tokenizer.json`, `tokenizer_config.json` and, when there is a single chat template, `chat_template.jinja`
   * (where transformers 5 reads it; tokenizer_config.json keeps the same template for older readers).
   */
  async save(directory: string): Promise<void> {
    await fs.mkdir(directory, { recursive: true });
    // each file written beside its final name, fsynced and renamed over it: a crash leaves the old or the new file
    await writeFileAtomic(path.join(directory, 'tokenizer.json'), JSON.stringify(this.files.tokenizer));
    await writeFileAtomic(path.join(directory, 'tokenizer_config.json'), `${JSON.stringify(this.files.config, null, 2)}\n`);
    if (typeof this.files.config['chat_template'] === 'string') await writeFileAtomic(path.join(directory, CHAT_TEMPLATE_FILE), this.files.config['chat_template']);
  }
}

/** Pads token sequences to a common length on one side. */
export function padSequences(sequences: readonly (readonly number[])[], padTokenId: number, side: PaddingSide, padToMultipleOf?: number): BatchEncoding {
  let width = Math.max(0, ...sequences.map((ids) => ids.length));
  if (padToMultipleOf !== undefined && padToMultipleOf > 1) width = Math.ceil(width / padToMultipleOf) * padToMultipleOf;
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  for (const ids of sequences) {
    const padding = new Array<number>(width - ids.length).fill(padTokenId);
    const zeros = new Array<number>(width - ids.length).fill(0);
    const ones = new Array<number>(ids.length).fill(1);
    inputIds.push(side === 'left' ? [...padding, ...ids] : [...ids, ...padding]);
    attentionMask.push(side === 'left' ? [...zeros, ...ones] : [...ones, ...zeros]);
  }
  return { inputIds, attentionMask };
}

/**
 * Loads `tokenizer.json`, `tokenizer_config.json` (optional) and `chat_template.jinja` (optional) from an HF model
 * directory. As in transformers, a `chat_template.jinja` replaces any `chat_template` of tokenizer_config.json.
 */
export async function loadTokenizer(directory: string): Promise<Tokenizer> {
  const readJson = async (name: string, required: boolean): Promise<unknown> => {
    const file = path.join(directory, name);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if (!required) return {};
      throw new TokenizerError(`loadTokenizer: cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new TokenizerError(`loadTokenizer: ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  };
  const tokenizerJson = await readJson('tokenizer.json', true);
  const config = (await readJson('tokenizer_config.json', false)) as Record<string, unknown>;
  const templateFile = await readChatTemplateFile(directory);
  return new Tokenizer(tokenizerJson, templateFile === null ? config : { ...config, chat_template: templateFile }, directory);
}
