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

describe('SFTTrainer progress on a non-terminal stderr', () => {
  it('prints a plain line every interval even though the training loop never yields to timers', async () => {
    const tokenizer = new Tokenizer(trainByteLevelBpe(['Q: a b c', 'an answer'], { vocabSize: 270, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });
    const model = createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 32, eosTokenId: tokenizer.eosTokenId }, { seed: 1 });
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const wasTty = process.stderr.isTTY;
    process.env['RLHFJS_PROGRESS_INTERVAL_MS'] = '1';
    Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
    process.stderr.write = ((chunk: string | Uint8Array): boolean => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const trainer = new SFTTrainer({ model, tokenizer, trainDataset: [{ prompt: 'Q: a', completion: ' b c' }, { prompt: 'Q: b', completion: ' an answer' }] as never }, { maxSteps: 6, batchSize: 2, progress: true });
      await trainer.train();
    } finally {
      process.stderr.write = write;
      Object.defineProperty(process.stderr, 'isTTY', { value: wasTty, configurable: true });
      delete process.env['RLHFJS_PROGRESS_INTERVAL_MS'];
      model.dispose();
    }
    const steps = new Set(lines.join('').split('\n').map((line) => /^sft (\d+)\/6 /.exec(line)?.[1]).filter((step) => step !== undefined));
    // the start line (0) and the final line (6) come from cli-progress itself; the ones between only from the loop
    expect([...steps].map(Number).filter((step) => step > 0 && step < 6).length).toBeGreaterThanOrEqual(4);
  });
});
