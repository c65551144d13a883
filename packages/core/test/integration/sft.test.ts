import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateArithmeticCorpus } from '../../src/data/synthetic_corpus';
import { TrainingError } from '../../src/errors/errors';
import { createCausalLM } from '../../src/model/model_factory';
import { SFTTrainer } from '../../src/sft/sft_trainer';
import { Tokenizer } from '../../src/tokenizer/tokenizer';
import { trainByteLevelBpe } from '../../src/tokenizer/train_bpe';

function makeTokenizer(texts: string[]): Tokenizer {
  const json = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ['<|endoftext|>'] });
  return new Tokenizer(json, { eos_token: '<|endoftext|>' });
}

const corpus = generateArithmeticCorpus({ seed: 1, count: 160, maxOperand: 9, operations: ['+'] });
const train = corpus.slice(0, 128);
const heldOut = corpus.slice(128);
const tokenizer = makeTokenizer(corpus.map((record) => `${record.prompt}${record.completion}`));

function tinyModel(seed = 0) {
  return createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 32, numLayers: 2, numHeads: 2, maxPositions: 64, eosTokenId: tokenizer.eosTokenId }, { seed });
}

describe('SFTTrainer', () => {
  let directory: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-sft-'));
  });
  afterAll(async () => {
    await fs.rm(directory, { recursive: true, force: true });
  });

  it('drives the training loss down and the held-out loss below its initial value, with numTensors flat', async () => {
    const model = tinyModel();
    const counts: number[] = [];
    const hooks = { beforeStep: () => counts.push(tf.memory().numTensors) };
    const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train, evalDataset: heldOut, hooks }, { maxSteps: 20, batchSize: 8, learningRate: 3e-3, lrScheduler: 'constant', maxLength: 48, progress: false });
    const initial = trainer.evaluateLoss();
    const result = await trainer.train();
    const first = result.history.slice(0, 3).reduce((s, r) => s + (r['loss'] as number), 0) / 3;
    const last = result.history.slice(-3).reduce((s, r) => s + (r['loss'] as number), 0) / 3;
    expect(last).toBeLessThan(first * 0.7);
    const final = trainer.evaluateLoss();
    expect(final).toBeLessThan(initial);
    // from step 2 on, the live tensor count at the start of each step is constant
    expect(new Set(counts.slice(1)).size).toBe(1);
    trainer.dispose();
    model.dispose();
  });

  it('resume: 2N steps equal N steps, a checkpoint, and N more (same losses to 1e-6)', async () => {
    const options = { batchSize: 4, learningRate: 2e-3, maxLength: 48, progress: false as const, seed: 5, maxSteps: 6, lrScheduler: 'linear' as const, warmupSteps: 2 };
    const straightModel = tinyModel(3);
    const straight = new SFTTrainer({ model: straightModel, tokenizer, trainDataset: train }, options);
    const full = await straight.train();

    const outputDir = path.join(directory, 'resume');
    const firstModel = tinyModel(3);
    const first = new SFTTrainer({ model: firstModel, tokenizer, trainDataset: train }, { ...options, outputDir, saveEvery: 3 });
    // stop after 3 steps by running a trainer whose schedule still spans 6 steps: train 6, but compare on a fresh resume from step 3
    await first.train();
    const resumedModel = tinyModel(99); // different init: everything must come from the checkpoint
    const resumed = new SFTTrainer({ model: resumedModel, tokenizer, trainDataset: train }, { ...options, outputDir, resumeFrom: path.join(outputDir, 'checkpoint-3') });
    const rest = await resumed.train();
    expect(rest.history.map((r) => r.step)).toEqual([4, 5, 6]);
    rest.history.forEach((record, i) => expect(Math.abs((record['loss'] as number) - (full.history[3 + i]?.['loss'] as number))).toBeLessThan(1e-6));
    const a = straightModel.namedParameters();
    const b = resumedModel.namedParameters();
    for (const [name, variable] of a) {
      const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(variable, b.get(name) as tf.Variable))).dataSync()[0] as number);
      expect(difference).toBeLessThan(1e-6);
    }
    for (const t of [straight, first, resumed]) t.dispose();
    for (const m of [straightModel, firstModel, resumedModel]) m.dispose();
  });

  it.each(['token', 'sequence'] as const)('gradient accumulation 4 × batch 2 equals 1 × batch 8 (%s aggregation, parameters within 1e-5)', async (lossAggregation) => {
    const run = async (batchSize: number, gradientAccumulationSteps: number) => {
      const model = tinyModel(7);
      const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train }, { maxSteps: 1, batchSize, gradientAccumulationSteps, learningRate: 1e-3, maxLength: 48, progress: false, lossAggregation, maxGradNorm: null });
      const result = await trainer.train();
      const values = new Map([...model.namedParameters()].map(([name, variable]) => [name, variable.dataSync().slice()]));
      trainer.dispose();
      model.dispose();
      return { values, record: result.history[0] as Record<string, number> };
    };
    const { values: whole, record: wholeRecord } = await run(8, 1);
    const { values: accumulated, record: accumulatedRecord } = await run(2, 4);
    // Adam's first step is nearly scale-free, so also compare the loss and the gradient norm it was given
    expect(Math.abs((accumulatedRecord['loss'] as number) - (wholeRecord['loss'] as number))).toBeLessThan(1e-5);
    expect(Math.abs((accumulatedRecord['gradNorm'] as number) - (wholeRecord['gradNorm'] as number))).toBeLessThan(1e-5 * (wholeRecord['gradNorm'] as number));
    let worst = 0;
    for (const [name, values] of whole) {
      const other = accumulated.get(name) as Float32Array;
      values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (other[i] as number)))));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('a NaN loss stops training with a TrainingError naming the step', async () => {
    const model = tinyModel();
    const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train }, { maxSteps: 3, batchSize: 4, learningRate: 1e-3, progress: false, maxLength: 48 });
    const variable = model.tensor('transformer.wte.weight');
    variable.assign(tf.fill(variable.shape, Number.NaN));
    await expect(trainer.train()).rejects.toThrow(TrainingError);
    await expect(trainer.train()).rejects.toThrow(/step 1/);
    trainer.dispose();
    model.dispose();
  });
});
