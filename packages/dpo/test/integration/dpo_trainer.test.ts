import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tokenizer, createCausalLM, createRng, trainByteLevelBpe, type CausalLM, type PlainPreferenceRecord } from '@rlhfjs/core';
import { applyLora, saveAdapter, withAdaptersDisabled } from '@rlhfjs/lora';
import type { TrainerTask } from '@rlhfjs/core';
import { DPOTrainer, REFERENCE_LOGPS_CACHE_FILE, type DpoExample } from '../../src/index';

/** Calls `hook` before each micro-batch's loss (the Trainer's task is private; tests reach in as SFT's do). */
function beforeEachLoss(trainer: DPOTrainer, hook: () => void): void {
  const holder = trainer.trainer as unknown as { task: TrainerTask<DpoExample> };
  const task = holder.task;
  holder.task = { ...task, computeLoss: (batch, counts) => {
    hook();
    return task.computeLoss(batch, counts);
  } };
}

/** "What is A + B?" → chosen: the sum; rejected: a wrong sum (off by 1…5). */
function preferenceCorpus(seed: number): PlainPreferenceRecord[] {
  const rng = createRng(seed);
  const records: PlainPreferenceRecord[] = [];
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) {
      const wrong = a + b + 1 + Math.floor(rng.next() * 5);
      records.push({ kind: 'preference', style: 'plain', prompt: `What is ${a} + ${b}?`, chosen: ` ${a + b}`, rejected: ` ${wrong}` });
    }
  }
  const order = records.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order.map((i) => records[i] as PlainPreferenceRecord);
}

const corpus = preferenceCorpus(7);
const train = corpus.slice(0, 80);
const heldOut = corpus.slice(80);
const tokenizer = new Tokenizer(trainByteLevelBpe(corpus.flatMap((r) => [`${r.prompt}${r.chosen}`, `${r.prompt}${r.rejected}`]), { vocabSize: 300, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });

function tinyModel(seed = 0, hiddenSize = 32): CausalLM {
  return createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize, numLayers: 2, numHeads: 2, maxPositions: 32, eosTokenId: tokenizer.eosTokenId }, { seed });
}

const base = { batchSize: 8, maxLength: 24, maxPromptLength: 16, progress: false as const, beta: 0.1, lossType: 'sigmoid' as const };

describe('DPOTrainer', () => {
  let directory: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-dpo-'));
  });
  afterAll(async () => {
    await fs.rm(directory, { recursive: true, force: true });
  });

  it('raises held-out rewards/accuracies above 0.5 and widens the margin, with numTensors flat', async () => {
    const model = tinyModel(1);
    const referenceModel = tinyModel(1);
    const trainer = new DPOTrainer({ model, tokenizer, trainDataset: train, evalDataset: heldOut, reference: { kind: 'frozen', model: referenceModel } }, { ...base, maxSteps: 6, learningRate: 3e-2, lrScheduler: 'constant', evalBatchSize: 20 });
    const before = await trainer.evaluate();
    // policy = reference: every reward is 0, the loss ln 2
    expect(Math.abs(before.loss - Math.log(2))).toBeLessThan(1e-5);
    expect(before['rewards/margins']).toBe(0);
    const counts: number[] = [];
    beforeEachLoss(trainer, () => counts.push(tf.memory().numTensors));
    const result = await trainer.train();
    // the trainer evaluates after its last step; read that instead of scoring the split again
    const final = result.evaluations[result.evaluations.length - 1] as Record<string, number>;
    const after = Object.fromEntries(Object.entries(final).filter(([key]) => key.startsWith('eval/')).map(([key, value]) => [key.slice(5), value])) as typeof before;
    console.log(`DPO held-out before: accuracies ${before['rewards/accuracies']}, margins ${before['rewards/margins']}; after: accuracies ${after['rewards/accuracies'].toFixed(3)}, margins ${after['rewards/margins'].toFixed(4)}, loss ${after.loss.toFixed(4)}; numTensors per step ${[...new Set(counts)].join(',')}`);
    expect(after['rewards/accuracies']).toBeGreaterThan(0.5);
    expect(after['rewards/margins']).toBeGreaterThan(before['rewards/margins']);
    expect(after.loss).toBeLessThan(before.loss);
    for (const key of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected']) {
      expect(Number.isFinite(result.history[0]?.[key])).toBe(true);
    }
    expect(new Set(counts.slice(1)).size).toBe(1);
    trainer.dispose();
    model.dispose();
    referenceModel.dispose();
  }, 40000);

  it('precomputed reference log-probs give the same losses as on-the-fly ones (1e-6), and cache them as JSON', async () => {
    const options = { ...base, maxSteps: 2, learningRate: 1e-2, gradientAccumulationSteps: 2, batchSize: 2 };
    const small = train.slice(0, 12);
    const run = async (precompute: boolean) => {
      const model = tinyModel(2);
      const referenceModel = tinyModel(3); // a reference different from the policy, so reference log-probs matter
      const outputDir = path.join(directory, precompute ? 'pre' : 'fly');
      const trainer = new DPOTrainer({ model, tokenizer, trainDataset: small, evalDataset: heldOut.slice(0, 4), reference: { kind: 'frozen', model: referenceModel } }, { ...options, outputDir, precomputeReferenceLogProbs: precompute });
      const result = await trainer.train();
      trainer.dispose();
      model.dispose();
      referenceModel.dispose();
      return { losses: result.history.map((r) => r['loss'] as number), outputDir };
    };
    const fly = await run(false);
    const pre = await run(true);
    console.log(`on-the-fly losses ${fly.losses.join(', ')}; precomputed ${pre.losses.join(', ')}`);
    expect(fly.losses[0]).not.toBeCloseTo(Math.log(2), 3);
    pre.losses.forEach((loss, i) => expect(Math.abs(loss - (fly.losses[i] as number))).toBeLessThan(1e-6));
    const cache = JSON.parse(await fs.readFile(path.join(pre.outputDir, REFERENCE_LOGPS_CACHE_FILE), 'utf8')) as { train: { chosen: number[] }; eval: { chosen: number[] } };
    expect(cache.train.chosen).toHaveLength(12);
    expect(cache.eval.chosen).toHaveLength(4);
    await expect(fs.access(path.join(fly.outputDir, REFERENCE_LOGPS_CACHE_FILE))).rejects.toThrow();
  }, 40000);

  it('LoRA with the adapters-disabled reference holds fewer bytes than a frozen-copy reference', async () => {
    const peak = async (useCopy: boolean) => {
      const model = tinyModel(4);
      const referenceModel = useCopy ? tinyModel(4) : null;
      applyLora(model, { r: 4, alpha: 8, targetModules: ['c_attn'], seed: 1 });
      const trainer = new DPOTrainer(
        {
          model,
          tokenizer,
          trainDataset: train.slice(0, 8),
          reference: referenceModel === null ? { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => withAdaptersDisabled(model, fn) } : { kind: 'frozen', model: referenceModel },
          saveModel: (outputDir) => saveAdapter(model, outputDir),
        },
        { ...base, batchSize: 4, maxSteps: 2, learningRate: 1e-2 },
      );
      let bytes = 0;
      beforeEachLoss(trainer, () => {
        bytes = Math.max(bytes, tf.memory().numBytes);
      });
      const result = await trainer.train();
      const outputDir = path.join(directory, useCopy ? 'lora-copy' : 'lora');
      await trainer.save(outputDir);
      trainer.dispose();
      model.dispose();
      referenceModel?.dispose();
      return { bytes, losses: result.history.map((r) => r['loss'] as number), outputDir };
    };
    const disabled = await peak(false);
    const copy = await peak(true);
    console.log(`numBytes during training: adapters-disabled ${disabled.bytes}, frozen copy ${copy.bytes}`);
    expect(disabled.bytes).toBeLessThan(copy.bytes);
    // the base weights with adapters disabled equal the frozen copy, so both runs see the same losses
    disabled.losses.forEach((loss, i) => expect(Math.abs(loss - (copy.losses[i] as number))).toBeLessThan(1e-5));
    const files = await fs.readdir(disabled.outputDir);
    expect(files).toContain('adapter_config.json');
    expect(files).toContain('tokenizer.json');
  }, 40000);
});
