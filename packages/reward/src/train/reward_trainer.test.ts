import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, IdentityReducer, isGradientCheckpointingEnabled } from '@rlhfjs/core';
import { inMemoryGroup, maxAbsDifference, snapshot, tinyCorpus, tinyRewardModel } from '../../test/helpers/tiny_reward_setup';
import { loadRewardModel, rewardModelStateDict, saveRewardModel } from '../model/reward_model_io';
import { RewardTrainer } from './reward_trainer';
import { resolveRewardTrainerConfig, type RewardTrainerOptions } from './reward_trainer_config';

const BASE: RewardTrainerOptions = { learningRate: 1e-3, lrScheduler: 'linear', seed: 7, progress: false, maxGradNorm: null };

function expectSameParameters(a: Map<string, Float32Array>, b: Map<string, Float32Array>, tolerance: number): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  const worst = Math.max(...[...a].map(([name, values]) => maxAbsDifference(values, b.get(name) as Float32Array)));
  expect(worst).toBeLessThan(tolerance);
}

describe('RewardTrainer on the shared Trainer loop', () => {
  const { examples, tokenizer } = tinyCorpus(32);
  let directory: string;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'reward-trainer-'));
  });
  afterAll(async () => {
    await fs.rm(directory, { recursive: true, force: true });
  });

  it('resolves reward and loop options together and collects every problem in one ConfigError', () => {
    const config = resolveRewardTrainerConfig({ batchSize: 4, maxSteps: null });
    expect(config.maxSteps).toBeNull();
    expect(config.maxLength).toBe(1024);
    expect(config.evalBatchSize).toBe(16);
    expect(Object.isFrozen(config)).toBe(true);
    let error: unknown;
    try {
      resolveRewardTrainerConfig({ batchSize: 0, evalBatchSize: -1, centerRewardsCoefficient: -1, saveEvery: 1 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const word of ['batchSize', 'evalBatchSize', 'centerRewardsCoefficient', 'saveEvery']) expect(problems).toContain(word);
  });

  it('gradient accumulation 2 × 4 equals one batch of 8 (loss, gradient norm, metrics and parameters)', async () => {
    const run = async (batchSize: number, gradientAccumulationSteps: number) => {
      const model = tinyRewardModel(tokenizer);
      const trainer = new RewardTrainer({ model, tokenizer, trainDataset: examples }, { ...BASE, batchSize, gradientAccumulationSteps, maxSteps: 1 });
      const result = await trainer.train();
      const parameters = snapshot(model.trainableParameters());
      trainer.dispose();
      model.dispose();
      return { record: result.history[0]!, parameters };
    };
    const whole = await run(8, 1);
    const accumulated = await run(4, 2);
    // loss and gradient norm are scale-sensitive (Adam's first update is not): a micro-batch mean instead of a
    // share of the step's pairs would double both
    expect(accumulated.record.loss).toBeCloseTo(whole.record.loss, 5);
    expect(Math.abs(accumulated.record.gradNorm - whole.record.gradNorm) / whole.record.gradNorm).toBeLessThan(1e-4);
    expect(accumulated.record['rewards/chosen']).toBeCloseTo(whole.record['rewards/chosen'], 5);
    expect(accumulated.record.margin).toBeCloseTo(whole.record.margin, 5);
    expectSameParameters(accumulated.parameters, whole.parameters, 1e-5);
  });

  it('two data-parallel ranks × 4 pairs equal one rank × 8 pairs', async () => {
    const single = tinyRewardModel(tokenizer);
    const singleTrainer = new RewardTrainer({ model: single, tokenizer, trainDataset: examples }, { ...BASE, batchSize: 8, maxSteps: 2 });
    const singleResult = await singleTrainer.train();
    const reducers = inMemoryGroup(2);
    const models = reducers.map(() => tinyRewardModel(tokenizer));
    const trainers = reducers.map((reducer, rank) => new RewardTrainer({ model: models[rank]!, tokenizer, trainDataset: examples, reducer }, { ...BASE, batchSize: 4, maxSteps: 2 }));
    const results = await Promise.all(trainers.map((trainer) => trainer.train()));
    expect(results[0]!.history[0]!.loss).toBeCloseTo(singleResult.history[0]!.loss, 5);
    expect(Math.abs(results[0]!.history[0]!.gradNorm - singleResult.history[0]!.gradNorm) / singleResult.history[0]!.gradNorm).toBeLessThan(1e-4);
    const expected = snapshot(single.trainableParameters());
    for (const model of models) expectSameParameters(snapshot(model.trainableParameters()), expected, 1e-5);
    for (const trainer of [singleTrainer, ...trainers]) trainer.dispose();
    for (const model of [single, ...models]) model.dispose();
  });

  it('N steps straight equal N/2 steps, a checkpoint and a resume for N/2 more', async () => {
    const outputDir = path.join(directory, 'resume');
    const options: RewardTrainerOptions = { ...BASE, batchSize: 4, maxSteps: 4, warmupSteps: 1, maxGradNorm: 1 };
    const straight = tinyRewardModel(tokenizer);
    const straightTrainer = new RewardTrainer({ model: straight, tokenizer, trainDataset: examples }, { ...options, saveEvery: 2, outputDir });
    const straightResult = await straightTrainer.train();
    expect(straightResult.lastCheckpoint).toBe(path.join(outputDir, 'checkpoint-4'));
    const files = await fs.readdir(path.join(outputDir, 'checkpoint-2'));
    expect(files.sort()).toEqual(['optimizer.safetensors', 'parameters.safetensors', 'trainer_state.json']);
    const log = (await fs.readFile(path.join(outputDir, 'reward_metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.map((row) => row['step'])).toEqual([1, 2, 3, 4]);
    expect(log[0]).toEqual(expect.objectContaining({ stage: 'reward', accuracy: expect.any(Number), 'rewards/chosen': expect.any(Number) }));

    const resumed = tinyRewardModel(tokenizer);
    const resumedTrainer = new RewardTrainer({ model: resumed, tokenizer, trainDataset: examples }, { ...options, resumeFrom: path.join(outputDir, 'checkpoint-2') });
    const resumedResult = await resumedTrainer.train();
    // it ran only steps 3 and 4 (a resume that loaded nothing would rerun 1–4 from the same init and also match)
    expect(resumedResult.history.map((record) => record.step)).toEqual([3, 4]);
    expect(resumedResult.history[1]!.loss).toBeCloseTo(straightResult.history[3]!.loss, 5);
    expectSameParameters(snapshot(resumed.trainableParameters()), snapshot(straight.trainableParameters()), 1e-6);
    for (const trainer of [straightTrainer, resumedTrainer]) trainer.dispose();
    straight.dispose();
    resumed.dispose();
  });

  it('with saveModel, checkpoint-N/ holds the reward model: loadRewardModel gives the weights of step N', async () => {
    const outputDir = path.join(directory, 'loadable');
    const model = tinyRewardModel(tokenizer);
    const trainer = new RewardTrainer({ model, tokenizer, trainDataset: examples, saveModel: (dir) => saveRewardModel(model, dir) }, { ...BASE, batchSize: 4, maxSteps: 2, saveEvery: 2, outputDir });
    await trainer.train();
    const loaded = await loadRewardModel(path.join(outputDir, 'checkpoint-2'));
    const expected = rewardModelStateDict(model);
    const actual = rewardModelStateDict(loaded);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, entry] of expected) expect(actual.get(name)?.data).toEqual(entry.data);
    trainer.dispose();
    model.dispose();
    loaded.dispose();
  });

  it('trains only what the backbone leaves trainable (as after applyLora) plus the head; the rest stays bit-identical', async () => {
    const model = tinyRewardModel(tokenizer);
    // a stand-in for LoRA adapters: lint forbids @rlhfjs/lora here (reward may import only core), and applyLora
    // works by leaving only its adapter variables trainable, which is what this reproduces
    const adapterName = [...model.backbone.namedParameters().keys()].find((name) => name.endsWith('self_attn.q_proj.weight')) as string;
    for (const [name, variable] of model.backbone.namedParameters()) variable.trainable = name === adapterName;
    expect([...model.trainableParameters().keys()].sort()).toEqual([adapterName, 'score.weight'].sort());
    const before = snapshot(model.namedParameters());
    const backboneBefore = snapshot(model.backbone.namedParameters());
    const trainer = new RewardTrainer({ model, tokenizer, trainDataset: examples }, { ...BASE, batchSize: 4, maxSteps: 2 });
    await trainer.train();
    const after = snapshot(model.namedParameters());
    for (const [name, values] of before) {
      const changed = maxAbsDifference(values, after.get(name) as Float32Array) > 0;
      expect([name, changed]).toEqual([name, name === adapterName || name === 'score.weight']);
    }
    for (const [name, values] of snapshot(model.backbone.namedParameters())) {
      if (name !== adapterName) expect([name, maxAbsDifference(values, backboneBefore.get(name) as Float32Array)]).toEqual([name, 0]);
    }
    trainer.dispose();
    model.dispose();
  });

  it('keeps tf.memory().numTensors flat across steps and evaluations, and evaluates the held-out split', async () => {
    const counts: number[] = [];
    class CountingReducer extends IdentityReducer {
      override async allReduceSum(values: readonly number[]): Promise<number[]> {
        counts.push(tf.memory().numTensors);
        return super.allReduceSum(values);
      }
    }
    const model = tinyRewardModel(tokenizer);
    const held = tinyCorpus(12).examples;
    const trainer = new RewardTrainer(
      { model, tokenizer, trainDataset: examples, evalDataset: held, reducer: new CountingReducer() },
      { ...BASE, batchSize: 4, maxSteps: 4, evalEvery: 2, evalBatchSize: 5 },
    );
    const before = tf.memory().numTensors;
    const result = await trainer.train();
    // allReduceSum runs before each step (counts) and after it (loss); the optimizer state appears in step 1
    expect(counts.length).toBe(8);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(result.evaluations.map((evaluation) => evaluation.step)).toEqual([2, 4]);
    expect(result.evaluations[1]).toEqual(expect.objectContaining({ count: 12, accuracy: expect.any(Number), meanMargin: expect.any(Number) }));
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it.each(['full', 'adapter stand-in'] as const)('gradientCheckpointing (%s): the same loss and updated parameters as without; numTensors flat; undone on dispose', async (setup) => {
    const run = async (gradientCheckpointing: boolean) => {
      const model = tinyRewardModel(tokenizer);
      if (setup === 'adapter stand-in') {
        // only some backbone weights trainable, as after applyLora (lint keeps @rlhfjs/lora out of this package)
        for (const [name, variable] of model.backbone.namedParameters()) variable.trainable = /(q_proj|v_proj)\.weight$/.test(name);
      }
      const before = snapshot(model.trainableParameters());
      const counts: number[] = [];
      class CountingReducer extends IdentityReducer {
        override async allReduceSum(values: readonly number[]): Promise<number[]> {
          counts.push(tf.memory().numTensors);
          return super.allReduceSum(values);
        }
      }
      const trainer = new RewardTrainer({ model, tokenizer, trainDataset: examples, reducer: new CountingReducer() }, { ...BASE, batchSize: 4, maxSteps: 3, gradientCheckpointing });
      expect(trainer.config.gradientCheckpointing).toBe(gradientCheckpointing);
      expect(isGradientCheckpointingEnabled(model.backbone)).toBe(gradientCheckpointing);
      const result = await trainer.train();
      const parameters = snapshot(model.trainableParameters());
      trainer.dispose();
      expect(isGradientCheckpointingEnabled(model.backbone)).toBe(false);
      model.dispose();
      return { history: result.history, before, parameters, counts };
    };
    const plain = await run(false);
    const checkpointed = await run(true);
    expect(checkpointed.history.map((record) => record.loss)).toEqual(plain.history.map((record) => expect.closeTo(record.loss, 6)));
    const moved = Math.max(...[...plain.parameters].map(([name, values]) => maxAbsDifference(values, plain.before.get(name) as Float32Array)));
    expect(moved).toBeGreaterThan(1e-4);
    expectSameParameters(checkpointed.parameters, plain.parameters, 1e-5);
    expect(new Set(checkpointed.counts.slice(1)).size).toBe(1); // the optimizer state appears in step 1
  });

  it('gradientCheckpointing must be a boolean', () => {
    expect(resolveRewardTrainerConfig({}).gradientCheckpointing).toBe(false);
    expect(() => resolveRewardTrainerConfig({ gradientCheckpointing: 'true' as unknown as boolean })).toThrow(/gradientCheckpointing must be true or false/);
  });
});
