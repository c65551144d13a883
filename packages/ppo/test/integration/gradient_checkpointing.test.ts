import * as tf from '@tensorflow/tfjs';
import { ConfigError, createCausalLM, isGradientCheckpointingEnabled, Tokenizer, trainByteLevelBpe, type CausalLM } from '@rlhfjs/core';
import { applyLora, setLoraTraining, withAdaptersDisabled } from '@rlhfjs/lora';
import { GRPOTrainer } from '../../src/trainer/grpo_trainer';
import type { GrpoOptions } from '../../src/trainer/grpo_config';
import { PPOTrainer } from '../../src/trainer/ppo_trainer';
import { resolvePpoConfig, type PpoOptions } from '../../src/trainer/ppo_config';
import { resolveGrpoConfig } from '../../src/trainer/grpo_config';
import type { ReferencePolicy } from '../../src/trainer/rollout';
import { createSeparateCritic } from '../../src/value/value_head';

const words = ['cat', 'dog', 'sun', 'map', 'red', 'big', 'hot', 'run'];
const prompts = words.map((word) => `${word} ${word}`);
const tokenizer = new Tokenizer(trainByteLevelBpe([...prompts, 'abcdefghijklmnopqrstuvwxyz'], { vocabSize: 300, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });

/** Fraction of completion characters that are lowercase ASCII letters. */
function letterScores(completions: string[]): Float32Array {
  return Float32Array.from(completions, (text) => (text.length === 0 ? 0 : [...text].filter((c) => c >= 'a' && c <= 'z').length / [...text].length));
}

function tinyModel(modelType: 'gpt2' | 'llama', seed = 0): CausalLM {
  return createCausalLM({ modelType, vocabSize: tokenizer.vocabSize, hiddenSize: 32, numLayers: 2, numHeads: 2, maxPositions: 64, eosTokenId: tokenizer.eosTokenId }, { seed });
}

/** Every parameter's values by name (host copies). */
function snapshot(parameters: ReadonlyMap<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...parameters].map(([name, variable]) => [name, Float32Array.from(variable.dataSync())]));
}

function expectSameParameters(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>, before: Map<string, Float32Array>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  let worst = 0;
  let moved = 0;
  for (const [name, values] of expected) {
    const other = actual.get(name) as Float32Array;
    const start = before.get(name) as Float32Array;
    values.forEach((value, index) => {
      worst = Math.max(worst, Math.abs(value - (other[index] as number)));
      moved = Math.max(moved, Math.abs(value - (start[index] as number)));
    });
  }
  expect(moved).toBeGreaterThan(1e-4); // the step changed the parameters, so the comparison is not of two no-ops
  expect(worst).toBeLessThan(1e-5);
}

type Setup = 'full' | 'lora' | 'separate-critic';

/** A policy (LoRA adapters with dropout under 'lora'), its reference, and what the trainer trains. */
function models(setup: Setup, modelType: 'gpt2' | 'llama') {
  const policy = tinyModel(modelType);
  let referenceModel: CausalLM | null = null;
  let reference: ReferencePolicy;
  if (setup === 'lora') {
    applyLora(policy, { r: 4, alpha: 8, dropout: 0.1, targetModules: 'all-linear', initialization: 'random', seed: 2 });
    setLoraTraining(policy, true);
    reference = { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => withAdaptersDisabled(policy, fn) };
  } else {
    referenceModel = tinyModel(modelType);
    for (const variable of referenceModel.namedParameters().values()) variable.trainable = false;
    reference = { kind: 'frozen', model: referenceModel };
  }
  const criticBackbone = setup === 'separate-critic' ? tinyModel(modelType, 9) : null;
  return { policy, reference, referenceModel, criticBackbone, dispose: () => [policy, referenceModel, criticBackbone].forEach((model) => model?.dispose()) };
}

const PPO_BASE: PpoOptions = { batchSize: 4, miniBatchSize: 2, ppoEpochs: 1, learningRate: 1e-2, maxNewTokens: 4, seed: 3, klCoef: 0.05 };
const GRPO_BASE: GrpoOptions = { batchSize: 2, numGenerations: 4, learningRate: 3e-2, maxCompletionLength: 4, seed: 4, beta: 0.05 };

/** One PPO iteration (2 updates) with and without checkpointing from the same start. */
async function ppoStep(setup: Setup, modelType: 'gpt2' | 'llama', gradientCheckpointing: boolean) {
  const made = models(setup, modelType);
  const critic = made.criticBackbone === null ? undefined : createSeparateCritic(made.criticBackbone, 1);
  const trainer = new PPOTrainer({ policy: made.policy, reference: made.reference, rewardFn: async (_p, completions) => letterScores(completions), tokenizer, prompts, ...(critic === undefined ? {} : { critic }) }, { ...PPO_BASE, gradientCheckpointing });
  const trained = [made.policy, ...(made.criticBackbone === null ? [] : [made.criticBackbone])];
  expect(trained.map(isGradientCheckpointingEnabled)).toEqual(trained.map(() => gradientCheckpointing));
  if (made.referenceModel !== null) expect(isGradientCheckpointingEnabled(made.referenceModel)).toBe(false);
  const parameters = () => new Map([...made.policy.trainableParameters(), ...[...trainer.critic.head.parameters()].map(([name, variable]) => [`critic.${name}`, variable] as const), ...(made.criticBackbone === null ? [] : [...made.criticBackbone.trainableParameters()].map(([name, variable]) => [`critic.backbone.${name}`, variable] as const))]);
  const before = snapshot(parameters());
  const metrics = await trainer.step();
  const after = snapshot(parameters());
  trainer.dispose();
  expect(trained.map(isGradientCheckpointingEnabled)).toEqual(trained.map(() => false)); // dispose undid it
  made.dispose();
  return { before, after, metrics };
}

async function grpoStep(setup: Setup, modelType: 'gpt2' | 'llama', gradientCheckpointing: boolean) {
  const made = models(setup, modelType);
  const trainer = new GRPOTrainer({ policy: made.policy, reference: made.reference, rewardFunctions: [{ name: 'letters', fn: (_p, completions) => letterScores(completions) }], tokenizer, prompts }, { ...GRPO_BASE, gradientCheckpointing });
  expect(isGradientCheckpointingEnabled(made.policy)).toBe(gradientCheckpointing);
  if (made.referenceModel !== null) expect(isGradientCheckpointingEnabled(made.referenceModel)).toBe(false);
  const before = snapshot(made.policy.trainableParameters());
  const metrics = await trainer.step();
  const after = snapshot(made.policy.trainableParameters());
  trainer.dispose();
  expect(isGradientCheckpointingEnabled(made.policy)).toBe(false);
  made.dispose();
  return { before, after, metrics };
}

describe('gradientCheckpointing in PPOTrainer and GRPOTrainer (tiny models, cpu)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([
    ['full', 'gpt2'],
    ['lora', 'llama'],
    ['separate-critic', 'llama'],
  ] as const)('PPO, %s %s: one iteration with checkpointing updates the parameters and gives the losses of one without', async (setup, modelType) => {
    const plain = await ppoStep(setup, modelType, false);
    const checkpointed = await ppoStep(setup, modelType, true);
    for (const key of ['loss/policy_avg', 'loss/value_avg', 'objective/kl', 'objective/scores']) expect([key, Math.abs((checkpointed.metrics[key] as number) - (plain.metrics[key] as number)) < 1e-6]).toEqual([key, true]);
    expectSameParameters(checkpointed.after, plain.after, plain.before);
  });

  it.each([
    ['full', 'gpt2'],
    ['lora', 'llama'],
  ] as const)('GRPO, %s %s: one iteration with checkpointing updates the parameters and gives the loss of one without', async (setup, modelType) => {
    const plain = await grpoStep(setup, modelType, false);
    const checkpointed = await grpoStep(setup, modelType, true);
    for (const key of ['loss', 'kl', 'reward']) expect([key, Math.abs((checkpointed.metrics[key] as number) - (plain.metrics[key] as number)) < 1e-6]).toEqual([key, true]);
    expectSameParameters(checkpointed.after, plain.after, plain.before);
  });

  it('numTensors stays flat over several iterations with checkpointing (PPO and GRPO, LoRA policy)', async () => {
    for (const kind of ['ppo', 'grpo'] as const) {
      const made = models('lora', 'gpt2');
      const trainer =
        kind === 'ppo'
          ? new PPOTrainer({ policy: made.policy, reference: made.reference, rewardFn: async (_p, completions) => letterScores(completions), tokenizer, prompts }, { ...PPO_BASE, gradientCheckpointing: true })
          : new GRPOTrainer({ policy: made.policy, reference: made.reference, rewardFunctions: [{ name: 'letters', fn: (_p, completions) => letterScores(completions) }], tokenizer, prompts }, { ...GRPO_BASE, gradientCheckpointing: true });
      const counts: number[] = [];
      for (let iteration = 0; iteration < 3; iteration += 1) {
        await trainer.step();
        counts.push(tf.memory().numTensors);
      }
      expect([kind, new Set(counts.slice(1)).size]).toEqual([kind, 1]); // the optimizer state appears in the first
      trainer.dispose();
      made.dispose();
    }
  });

  it('gradientCheckpointing is in the frozen configs (default false); a non-boolean is a ConfigError', () => {
    expect(resolvePpoConfig({}).gradientCheckpointing).toBe(false);
    expect(resolveGrpoConfig({ gradientCheckpointing: true }).gradientCheckpointing).toBe(true);
    expect(() => resolvePpoConfig({ gradientCheckpointing: 'yes' as unknown as boolean })).toThrow(ConfigError);
    expect(() => resolveGrpoConfig({ gradientCheckpointing: 1 as unknown as boolean })).toThrow(/gradientCheckpointing must be true or false/);
  });
});
