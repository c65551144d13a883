import { TokenizerError } from '../errors/errors';
import { Tokenizer } from './tokenizer';
import { trainByteLevelBpe } from './train_bpe';

const tokenizer = new Tokenizer(trainByteLevelBpe(['hello world', 'hello there'], { vocabSize: 270 }), { eos_token: '<|endoftext|>' });

describe('Tokenizer.decode', () => {
  it("decodes no ids to '' (transformers' decode([])), with or without skipping special tokens", () => {
    expect(tokenizer.decode([])).toBe('');
    expect(tokenizer.decode([], { skipSpecialTokens: true })).toBe('');
  });

  it('still round-trips text and rejects ids outside the vocabulary', () => {
    expect(tokenizer.decode(tokenizer.encode('hello world', { addSpecialTokens: false }))).toBe('hello world');
    expect(() => tokenizer.decode([tokenizer.vocabSize])).toThrow(TokenizerError);
    expect(() => tokenizer.decode([-1])).toThrow(/outside the vocabulary/);
  });
});
