import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, Tokenizer, createCausalLM, trainByteLevelBpe, type PlainPreferenceRecord } from '@rlhfjs/core';
import type { ReferencePolicy } from '../reference/reference_policy';
import { DPOTrainer } from './dpo_trainer';

const records: PlainPreferenceRecord[] = Array.from({ length: 8 }, (_, i) => ({ kind: 'preference', style: 'plain', prompt: `Q${i}?`, chosen: ` ${i}`, rejected: ` ${i + 1}` }));
const tokenizer = new Tokenizer(trainByteLevelBpe(records.map((r) => r.prompt + r.chosen), { vocabSize: 270 }), { eos_token: '<|endoftext|>' });
const tiny = (seed: number) => createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 16 }, { seed });

describe('DPOTrainer', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('rejects a missing or mismatched reference with one ConfigError', () => {
    const model = tiny(0);
    expect(() => new DPOTrainer({ model, tokenizer, trainDataset: records })).toThrow(ConfigError);
    expect(() => new DPOTrainer({ model, tokenizer, trainDataset: records, reference: { kind: 'none' } }, { lossType: 'sigmoid' })).toThrow(/need a reference policy/);
    // a JavaScript caller that leaves out the switch gets a ConfigError naming it, not a TypeError mid-training
    const noSwitch = { kind: 'adapters-disabled' } as unknown as ReferencePolicy;
    expect(() => new DPOTrainer({ model, tokenizer, trainDataset: records, reference: noSwitch })).toThrow(/withAdaptersDisabled/);
    expect(() => new DPOTrainer({ model, tokenizer, trainDataset: records, reference: { kind: 'frozen', model } })).toThrow(/separate copy/);
    expect(() => new DPOTrainer({ model, tokenizer, trainDataset: records, reference: { kind: 'none' } }, { lossType: 'simpo' })).not.toThrow();
    model.dispose();
  });

  it('accumulating 2 micro-batches of 4 pairs equals one batch of 8 (loss and updated weights)', async () => {
    const run = async (batchSize: number, gradientAccumulationSteps: number) => {
      const model = tiny(1);
      const reference = tiny(2);
      const trainer = new DPOTrainer({ model, tokenizer, trainDataset: records, reference: { kind: 'frozen', model: reference } }, { batchSize, gradientAccumulationSteps, maxSteps: 1, learningRate: 1e-2, progress: false, maxLength: 12, maxPromptLength: 6 });
      const result = await trainer.train();
      const weights = Array.from((model.trainableParameters().values().next().value as tf.Variable).dataSync());
      trainer.dispose();
      model.dispose();
      reference.dispose();
      return { loss: result.history[0]?.['loss'] as number, weights };
    };
    const whole = await run(8, 1);
    const accumulated = await run(4, 2);
    expect(Math.abs(whole.loss - accumulated.loss)).toBeLessThan(1e-6);
    whole.weights.forEach((value, i) => expect(Math.abs(value - (accumulated.weights[i] as number))).toBeLessThan(1e-6));
  });

  it("adapters-disabled scores the reference inside the caller's switch; save() writes what saveModel writes, else the whole model", async () => {
    const model = tiny(3);
    const reference = tiny(4);
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-dpo-save-'));
    try {
      let switched = 0;
      const saved: string[] = [];
      const withSwitch = new DPOTrainer(
        {
          model,
          tokenizer,
          trainDataset: records,
          reference: { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => (switched++, fn()) },
          saveModel: async (target) => void saved.push(target),
        },
        { batchSize: 4, maxSteps: 1, learningRate: 1e-2, progress: false, maxLength: 12, maxPromptLength: 6 },
      );
      const result = await withSwitch.train();
      // without adapters the switch changes nothing: policy = reference at step 1, so the sigmoid loss is ln 2
      expect(switched).toBeGreaterThan(0);
      expect(Math.abs((result.history[0]?.['loss'] as number) - Math.LN2)).toBeLessThan(1e-5);
      await withSwitch.save(path.join(directory, 'custom'));
      expect(saved).toEqual([path.join(directory, 'custom')]);
      expect(await fs.readdir(path.join(directory, 'custom'))).toEqual(expect.arrayContaining(['tokenizer.json']));
      withSwitch.dispose();

      const plain = new DPOTrainer({ model, tokenizer, trainDataset: records, reference: { kind: 'frozen', model: reference } }, { progress: false });
      await plain.save(path.join(directory, 'whole'));
      expect(await fs.readdir(path.join(directory, 'whole'))).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
      plain.dispose();
    } finally {
      model.dispose();
      reference.dispose();
      await fs.rm(directory, { recursive: true, force: true });
    }
  });
});
