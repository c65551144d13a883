import * as tf from '@tensorflow/tfjs';
import { ConfigError, createCausalLM, isGradientCheckpointingEnabled, Tokenizer, trainByteLevelBpe, type CausalLM, type PlainPreferenceRecord } from '@rlhfjs/core';
import { applyLora, saveAdapter, setLoraTraining, withAdaptersDisabled } from '@rlhfjs/lora';
import { DPOTrainer } from '../../src/index';

const words = ['cat', 'dog', 'sun', 'map', 'red', 'big', 'hot', 'run'];
const records: PlainPreferenceRecord[] = words.map((word, index) => ({ kind: 'preference', style: 'plain', prompt: `${word} is`, chosen: ` ${words[(index + 1) % words.length]} ok`, rejected: ` ${word}${word} no` }));
const tokenizer = new Tokenizer(trainByteLevelBpe(records.flatMap((r) => [`${r.prompt}${r.chosen}`, `${r.prompt}${r.rejected}`]), { vocabSize: 280, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });

function tinyModel(seed = 0): CausalLM {
  return createCausalLM({ modelType: 'llama', vocabSize: tokenizer.vocabSize, hiddenSize: 32, numLayers: 2, numHeads: 2, maxPositions: 32, eosTokenId: tokenizer.eosTokenId }, { seed });
}

function snapshot(parameters: ReadonlyMap<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...parameters].map(([name, variable]) => [name, Float32Array.from(variable.dataSync())]));
}

/** Two DPO steps; the LoRA policy trains adapters with dropout against itself with the adapters off. */
async function run(setup: 'full' | 'lora', gradientCheckpointing: boolean) {
  const model = tinyModel(1);
  const referenceModel = setup === 'full' ? tinyModel(1) : null;
  if (setup === 'lora') {
    applyLora(model, { r: 4, alpha: 8, dropout: 0.1, targetModules: 'all-linear', initialization: 'random', seed: 2 });
    setLoraTraining(model, true);
  }
  const trainer = new DPOTrainer(
    {
      model,
      tokenizer,
      trainDataset: records,
      reference: referenceModel === null ? { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => withAdaptersDisabled(model, fn) } : { kind: 'frozen', model: referenceModel },
      ...(setup === 'lora' ? { saveModel: (directory: string) => saveAdapter(model, directory) } : {}),
    },
    { batchSize: 4, maxSteps: 2, maxLength: 24, maxPromptLength: 16, progress: false, learningRate: 1e-2, seed: 3, gradientCheckpointing },
  );
  expect(isGradientCheckpointingEnabled(model)).toBe(gradientCheckpointing);
  if (referenceModel !== null) expect(isGradientCheckpointingEnabled(referenceModel)).toBe(false);
  const before = snapshot(model.trainableParameters());
  const tensors = tf.memory().numTensors;
  const result = await trainer.train();
  const after = snapshot(model.trainableParameters());
  trainer.dispose();
  expect(tf.memory().numTensors).toBe(tensors); // the optimizer state went with the trainer
  expect(isGradientCheckpointingEnabled(model)).toBe(false);
  model.dispose();
  referenceModel?.dispose();
  return { losses: result.history.map((record) => record['loss'] as number), before, after };
}

describe('DPOTrainer gradientCheckpointing', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['full', 'lora'] as const)('%s: two steps with checkpointing give the losses and parameters of two without', async (setup) => {
    const plain = await run(setup, false);
    const checkpointed = await run(setup, true);
    checkpointed.losses.forEach((loss, step) => expect(Math.abs(loss - (plain.losses[step] as number))).toBeLessThan(1e-6));
    let worst = 0;
    let moved = 0;
    for (const [name, values] of plain.after) {
      const other = checkpointed.after.get(name) as Float32Array;
      const start = plain.before.get(name) as Float32Array;
      values.forEach((value, index) => {
        worst = Math.max(worst, Math.abs(value - (other[index] as number)));
        moved = Math.max(moved, Math.abs(value - (start[index] as number)));
      });
    }
    expect(moved).toBeGreaterThan(1e-4);
    expect(worst).toBeLessThan(1e-5);
  });

  it('a non-boolean gradientCheckpointing is a ConfigError', () => {
    const model = tinyModel();
    expect(() => new DPOTrainer({ model, tokenizer, trainDataset: records, reference: { kind: 'none' } }, { lossType: 'simpo', gradientCheckpointing: 'yes' as unknown as boolean })).toThrow(ConfigError);
    expect(isGradientCheckpointingEnabled(model)).toBe(false);
    model.dispose();
  });
});
