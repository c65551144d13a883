import { CharTokenizer, maskedRuns } from '../../test/fixtures/data/char_tokenizer';
import { ConfigError, DataError } from '../errors/errors';
import { parseRecord } from './parse_record';
import { tokenizeSftExample } from './sft_tokenize';

const tokenizer = new CharTokenizer();
const ids = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });

describe('tokenizeSftExample', () => {
  it('masks the prompt of a prompt–completion pair and trains the completion and EOS', () => {
    const record = parseRecord({ prompt: 'What is 2 + 3?', completion: ' 5.' });
    const example = tokenizeSftExample(record, tokenizer);
    expect(example.inputIds).toEqual([1, ...ids('What is 2 + 3? 5.'), 2]);
    // BOS + 14 prompt characters are not targets; " 5." and EOS are.
    expect(example.lossMask).toEqual([...new Array(15).fill(0), 1, 1, 1, 1]);
    expect(example.truncated).toBe(false);
  });

  it('trains every token but the first without completionOnlyLoss, and for language modelling', () => {
    const pair = tokenizeSftExample(parseRecord({ prompt: 'ab', completion: 'c' }), tokenizer, {
      completionOnlyLoss: false,
    });
    expect(pair.lossMask).toEqual([0, 1, 1, 1, 1]);
    const text = tokenizeSftExample(parseRecord({ text: 'abc' }), tokenizer);
    expect(text.inputIds).toEqual([1, ...ids('abc'), 2]);
    expect(text.lossMask).toEqual([0, 1, 1, 1, 1]);
  });

  it('leaves EOS off with appendEos false, and does not add a second one', () => {
    expect(tokenizeSftExample(parseRecord({ text: 'ab' }), tokenizer, { appendEos: false }).inputIds).toEqual([
      1,
      ...ids('ab'),
    ]);
    const noBos = new CharTokenizer({ bos: false });
    expect(tokenizeSftExample(parseRecord({ text: 'ab' }), noBos).inputIds).toEqual([...ids('ab'), 2]);
  });

  it('trains the assistant turns of a conversation, each with its end-of-turn marker', () => {
    const record = parseRecord({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: '2+2?' },
        { role: 'assistant', content: '4' },
      ],
    });
    const example = tokenizeSftExample(record, tokenizer);
    expect(tokenizer.decode(example.inputIds)).toBe(
      '<|system|>Be brief.<|end|>\n<|user|>Hi<|end|>\n<|assistant|>Hello<|end|>\n<|user|>2+2?<|end|>\n<|assistant|>4<|end|>\n',
    );
    expect(maskedRuns(tokenizer, example.inputIds, example.lossMask)).toEqual(['Hello<|end|>\n', '4<|end|>\n']);
  });

  it('trains the completion messages of a conversational prompt–completion pair', () => {
    const record = parseRecord({
      prompt: [{ role: 'user', content: 'Sky?' }],
      completion: [{ role: 'assistant', content: 'Blue.' }],
    });
    const example = tokenizeSftExample(record, tokenizer);
    expect(maskedRuns(tokenizer, example.inputIds, example.lossMask)).toEqual(['Blue.<|end|>\n']);
    expect(example.inputIds[example.inputIds.length - 1]).not.toBe(2);
  });

  it('counts a token merged across the prompt boundary as completion', () => {
    // " y" is one token: "x " + "y" encodes as [x, " y"], so the prompt's own encoding [x, " "] stops matching at 1.
    const merging = new CharTokenizer({ pieces: [' y'], bos: false });
    const example = tokenizeSftExample(parseRecord({ prompt: 'x ', completion: 'y' }), merging);
    expect(merging.decode(example.inputIds)).toBe('x y</s>');
    expect(example.lossMask).toEqual([0, 1, 1]);
  });

  it('truncates on the right by default and on the left on request', () => {
    const record = parseRecord({ prompt: 'abc', completion: 'de' });
    // Full: [BOS a b c d e EOS], mask [0 0 0 0 1 1 1].
    const right = tokenizeSftExample(record, tokenizer, { maxLength: 5 });
    expect(right.inputIds).toEqual([1, ...ids('abcd')]);
    expect(right.lossMask).toEqual([0, 0, 0, 0, 1]);
    expect(right.truncated).toBe(true);
    const left = tokenizeSftExample(record, tokenizer, { maxLength: 3, truncationSide: 'left' });
    expect(left.inputIds).toEqual([...ids('de'), 2]);
    // The new first token "d" has nothing before it to be predicted from.
    expect(left.lossMask).toEqual([0, 1, 1]);
  });

  it('rejects records SFT cannot use and bad options', () => {
    expect(() => tokenizeSftExample(parseRecord({ prompt: 'p', chosen: 'a', rejected: 'b' }), tokenizer)).toThrow(
      DataError,
    );
    expect(() =>
      tokenizeSftExample(parseRecord({ text: 'a' }), tokenizer, { maxLength: 0, truncationSide: 'middle' as never }),
    ).toThrow(ConfigError);
  });

  it('takes plain TRL-style objects built in code as their parsed records, and names the bad field of a malformed one', () => {
    const plain = { prompt: 'What is 2 + 3?', completion: ' 5.' };
    expect(tokenizeSftExample(plain as never, tokenizer)).toEqual(tokenizeSftExample(parseRecord(plain), tokenizer));
    expect(() => tokenizeSftExample({ prompt: 'p', completion: 7 } as never, tokenizer)).toThrow(/completion/);
    expect(() => tokenizeSftExample({ prompt: 'p', completion: 7 } as never, tokenizer)).toThrow(DataError);
  });
});
