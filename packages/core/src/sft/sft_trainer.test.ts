import * as tf from '@tensorflow/tfjs';
import { TokenizerError } from '../errors/errors';
import { createCausalLM } from '../model/model_factory';
import { Tokenizer } from '../tokenizer/tokenizer';
import { trainByteLevelBpe } from '../tokenizer/train_bpe';
import { SFTTrainer } from './sft_trainer';

describe('SFTTrainer input checks', () => {
  it('refuses a tokenizer that encodes every training text to nothing instead of training on loss 0', () => {
    const json = trainByteLevelBpe(['abc'], { vocabSize: 260, specialTokens: ['<|endoftext|>'] }) as Record<string, unknown>;
    // A normalizer that deletes every character: each text encodes to no token (only the appended EOS is left).
    const erasing = { ...json, normalizer: { type: 'Replace', pattern: { Regex: '[\\s\\S]' }, content: '' } };
    const tokenizer = new Tokenizer(erasing, { eos_token: '<|endoftext|>' });
    expect(tokenizer.encode('some training text')).toEqual([]);
    const model = createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 16, eosTokenId: tokenizer.eosTokenId }, { seed: 1 });
    const before = tf.memory().numTensors;
    const build = (): SFTTrainer =>
      new SFTTrainer({ model, tokenizer, trainDataset: [{ prompt: 'Q: ', completion: 'an answer' }, { prompt: 'Q2: ', completion: 'another' }] as never }, { maxSteps: 1, progress: false });
    expect(build).toThrow(TokenizerError);
    expect(build).toThrow(/2 training examples tokenize to no token the loss can train on/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
