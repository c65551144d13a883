import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerError } from '../errors/errors';
import { loadTokenizer, Tokenizer } from './tokenizer';
import { trainByteLevelBpe } from './train_bpe';
import { validateTokenizerConfig } from './validate_tokenizer_config';

const json = trainByteLevelBpe(['hello world'], { vocabSize: 270, specialTokens: ['<|endoftext|>'] });

function messageOf(config: unknown): string {
  try {
    validateTokenizerConfig(config, 'model/tokenizer_config.json');
  } catch (error) {
    if (error instanceof TokenizerError) return error.message;
    throw error;
  }
  throw new Error('expected a TokenizerError');
}

describe('validateTokenizerConfig', () => {
  it('accepts real-world configs, absent and null values', () => {
    expect(() =>
      validateTokenizerConfig(
        { padding_side: 'left', truncation_side: 'right', model_max_length: 1e30, eos_token: { content: '<|endoftext|>', lstrip: false }, pad_token: null, add_bos_token: false, chat_template: [{ name: 'default', template: '{{ 1 }}' }] },
        'f',
      ),
    ).not.toThrow();
    expect(() => validateTokenizerConfig({}, 'f')).not.toThrow();
  });

  it('names the file and every bad key', () => {
    const message = messageOf({ padding_side: 'middle', truncation_side: 3, model_max_length: -1, eos_token: 5, add_eos_token: 'yes', chat_template: { a: 1 } });
    expect(message).toContain('model/tokenizer_config.json');
    expect(message).toContain('key "padding_side" must be "left" or "right", got "middle"');
    expect(message).toContain('key "truncation_side"');
    expect(message).toContain('key "model_max_length"');
    expect(message).toContain('key "eos_token"');
    expect(message).toContain('key "add_eos_token"');
    expect(message).toContain('key "chat_template"');
  });

  it('refuses a config that is not an object', () => {
    expect(messageOf([])).toContain('expected a JSON object, got an array');
    expect(messageOf(null)).toContain('got null');
  });

  it('is applied by the Tokenizer constructor and loadTokenizer', async () => {
    expect(() => new Tokenizer(json, { eos_token: '<|endoftext|>', padding_side: 'middle' }, 'dir')).toThrow(
      /dir\/tokenizer_config\.json: key "padding_side" must be "left" or "right", got "middle"/,
    );
    const directory = mkdtempSync(join(tmpdir(), 'tokenizer-config-'));
    writeFileSync(join(directory, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(join(directory, 'tokenizer_config.json'), '"just a string"');
    await expect(loadTokenizer(directory)).rejects.toThrow(TokenizerError);
    await expect(loadTokenizer(directory)).rejects.toThrow(`${directory}/tokenizer_config.json: expected a JSON object, got "just a string"`);
  });
});

describe('validateTokenizerJson (through the Tokenizer constructor)', () => {
  const config = { eos_token: '<|endoftext|>' };
  const model = json['model'] as Record<string, unknown>;
  const withModel = (patch: Record<string, unknown>): unknown => ({ ...json, model: { ...model, ...patch } });

  it('refuses an unknown model type, bad vocabulary ids and bad added tokens, naming file and key', () => {
    expect(() => new Tokenizer(withModel({ type: 'Nonsense' }), config, 'm')).toThrow('m/tokenizer.json: key "model.type" must be one of BPE, WordPiece, WordLevel, Unigram, got "Nonsense"');
    expect(() => new Tokenizer(withModel({ vocab: { a: '0' } }), config, 'm')).toThrow(/key "model.vocab" maps "a" to "0"/);
    expect(() => new Tokenizer(withModel({ vocab: ['a'] }), config, 'm')).toThrow(/key "model.vocab" must be an object/);
    expect(() => new Tokenizer({ ...json, added_tokens: [{ id: -1, content: 'x' }] }, config, 'm')).toThrow(/key "added_tokens\[0\]"/);
    expect(() => new Tokenizer([], config, 'm')).toThrow(TokenizerError);
  });

  it('refuses ids past the vocabulary size', () => {
    const added = [...(json['added_tokens'] as unknown[]), { id: 2 ** 40, content: '<x>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }];
    expect(() => new Tokenizer({ ...json, added_tokens: added }, config, 'm')).toThrow(/m\/tokenizer.json has \d+ tokens and \d+ added tokens but an id of 1099511627776/);
  });
});
