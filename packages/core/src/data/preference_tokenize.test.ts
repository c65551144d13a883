import { CharTokenizer } from '../../test/fixtures/data/char_tokenizer';
import { ConfigError, DataError } from '../errors/errors';
import { parseRecord } from './parse_record';
import { tokenizePreferenceExample } from './preference_tokenize';
import { tokenizePromptExample } from './prompt_tokenize';

const tokenizer = new CharTokenizer();
const ids = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });

describe('tokenizePreferenceExample', () => {
  it('tokenizes a plain pair: BOS on the prompt, EOS ending each completion', () => {
    const example = tokenizePreferenceExample(
      parseRecord({ prompt: 'Sky?', chosen: ' Blue', rejected: ' Red' }),
      tokenizer,
    );
    expect(example).toEqual({
      promptIds: [1, ...ids('Sky?')],
      chosenIds: [...ids(' Blue'), 2],
      rejectedIds: [...ids(' Red'), 2],
      truncated: false,
    });
  });

  it('takes a plain { prompt, chosen, rejected } object as its parsed record; a missing field is a DataError', () => {
    const plain = { prompt: 'Q', chosen: ' yes', rejected: ' no' };
    expect(tokenizePreferenceExample(plain as never, tokenizer)).toEqual(tokenizePreferenceExample(parseRecord(plain), tokenizer));
    expect(() => tokenizePreferenceExample({ prompt: 'Q', chosen: ' yes' } as never, tokenizer)).toThrow(DataError);
  });

  it('renders a conversational pair with the chat template, completions after the generation prompt', () => {
    const record = parseRecord({
      chosen: [
        { role: 'user', content: 'Sky?' },
        { role: 'assistant', content: 'Blue' },
      ],
      rejected: [
        { role: 'user', content: 'Sky?' },
        { role: 'assistant', content: 'Red' },
      ],
    });
    const example = tokenizePreferenceExample(record, tokenizer);
    expect(tokenizer.decode(example.promptIds)).toBe('<|user|>Sky?<|end|>\n<|assistant|>');
    expect(tokenizer.decode(example.chosenIds)).toBe('Blue<|end|>\n</s>');
    expect(tokenizer.decode(example.rejectedIds)).toBe('Red<|end|>\n</s>');
  });

  it('keeps the end of a long prompt, then cuts completions to what maxLength leaves', () => {
    const record = parseRecord({ prompt: 'abcdef', chosen: 'xyz', rejected: 'uv' });
    const example = tokenizePreferenceExample(record, tokenizer, { maxPromptLength: 3, maxLength: 6 });
    expect(example.promptIds).toEqual(ids('def'));
    expect(example.chosenIds).toEqual(ids('xyz'));
    expect(example.rejectedIds).toEqual([...ids('uv'), 2]);
    expect(example.truncated).toBe(true);
  });

  it('rejects a prompt that leaves no room, non-preference records and bad options', () => {
    const record = parseRecord({ prompt: 'abcdef', chosen: 'x', rejected: 'y' });
    expect(() => tokenizePreferenceExample(record, tokenizer, { maxPromptLength: null, maxLength: 5 })).toThrow(
      DataError,
    );
    expect(() => tokenizePreferenceExample(parseRecord({ prompt: 'p' }), tokenizer)).toThrow(DataError);
    expect(() => tokenizePreferenceExample(record, tokenizer, { maxPromptLength: 8, maxLength: 8 })).toThrow(
      ConfigError,
    );
  });
});

describe('tokenizePromptExample', () => {
  it('encodes plain prompts with BOS and message prompts with the generation prompt', () => {
    expect(tokenizePromptExample(parseRecord({ prompt: 'Hi' }), tokenizer).promptIds).toEqual([1, ...ids('Hi')]);
    const messages = tokenizePromptExample(parseRecord({ prompt: [{ role: 'user', content: 'Hi' }] }), tokenizer);
    expect(tokenizer.decode(messages.promptIds)).toBe('<|user|>Hi<|end|>\n<|assistant|>');
  });

  it('takes the prompt of preference records and of conversations (before the last assistant turn)', () => {
    expect(
      tokenizePromptExample(parseRecord({ prompt: 'Q', chosen: 'a', rejected: 'b' }), tokenizer).promptIds,
    ).toEqual([1, ...ids('Q')]);
    const conversation = parseRecord({
      messages: [
        { role: 'user', content: 'A' },
        { role: 'assistant', content: 'B' },
        { role: 'user', content: 'C' },
        { role: 'assistant', content: 'D' },
      ],
    });
    expect(tokenizer.decode(tokenizePromptExample(conversation, tokenizer).promptIds)).toBe(
      '<|user|>A<|end|>\n<|assistant|>B<|end|>\n<|user|>C<|end|>\n<|assistant|>',
    );
  });

  it('keeps the last maxPromptLength tokens and rejects language-modelling records', () => {
    const cut = tokenizePromptExample(parseRecord({ prompt: 'abcdef' }), tokenizer, { maxPromptLength: 2 });
    expect(cut).toEqual({ promptIds: ids('ef'), truncated: true });
    expect(() => tokenizePromptExample(parseRecord({ text: 't' }), tokenizer)).toThrow(DataError);
  });
});
