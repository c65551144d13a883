import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError, createCausalLM, OUTPUT_DIR_ERROR_CODES, Tokenizer, trainByteLevelBpe, type CausalLM } from '@rlhfjs/core';
import { GRPOTrainer } from '../../src/trainer/grpo_trainer';
import { PPOTrainer } from '../../src/trainer/ppo_trainer';

const words = ['cat', 'dog', 'sun', 'map'];
const prompts = words.map((word) => `${word} ${word}`);
const tokenizer = new Tokenizer(trainByteLevelBpe([...prompts, 'abcdefghijklmnopqrstuvwxyz'], { vocabSize: 280, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });
const letterScores = (completions: string[]): Float32Array => Float32Array.from(completions, (text) => [...text].filter((c) => c >= 'a' && c <= 'z').length / Math.max(text.length, 1));

function tinyModel(): CausalLM {
  return createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 32, eosTokenId: tokenizer.eosTokenId }, { seed: 0 });
}

/** A trainer of either kind on a fresh tiny policy (β = 0 for GRPO: no reference), with its disposer. */
function makeTrainer(kind: 'ppo' | 'grpo') {
  const policy = tinyModel();
  const reference = kind === 'ppo' ? tinyModel() : null;
  const trainer =
    kind === 'ppo'
      ? new PPOTrainer({ policy, reference: { kind: 'frozen', model: reference as CausalLM }, rewardFn: async (_p, completions) => letterScores(completions), tokenizer, prompts }, { batchSize: 2, miniBatchSize: 2, ppoEpochs: 1, maxNewTokens: 3, iterations: 3 })
      : new GRPOTrainer({ policy, rewardFunctions: [{ name: 'letters', fn: (_p, completions) => letterScores(completions) }], tokenizer, prompts }, { batchSize: 1, numGenerations: 2, maxCompletionLength: 3, iterations: 3 });
  return { trainer, dispose: () => [trainer, policy, reference].forEach((owned) => owned?.dispose()) };
}

async function rejection(promise: Promise<unknown>): Promise<CheckpointError> {
  const error = await promise.then(() => null, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(CheckpointError);
  return error as CheckpointError;
}

describe('PPOTrainer / GRPOTrainer prepareOutputDir (core output-directory guard)', () => {
  let root: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-rl-output-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it.each(['ppo', 'grpo'] as const)('%s: another run is refused unless overwrite (which clears it); latest resumes its checkpoint; latest with none is an error', async (kind) => {
    const outputDir = path.join(root, kind);
    const first = makeTrainer(kind);
    expect(await first.trainer.prepareOutputDir(outputDir)).toBeNull(); // an empty (missing) directory: a fresh run
    await first.trainer.step();
    await first.trainer.saveCheckpoint(outputDir);
    await fs.writeFile(path.join(outputDir, `${kind}_metrics.jsonl`), `${JSON.stringify({ stage: kind, step: 1 })}\n`);
    first.dispose();

    const second = makeTrainer(kind);
    const refused = await rejection(second.trainer.prepareOutputDir(outputDir));
    expect(refused.code).toBe(OUTPUT_DIR_ERROR_CODES.inUse);
    expect(refused.message).toContain(`${outputDir} holds another run (checkpoint-1, ${kind}_metrics.jsonl)`);
    expect(second.trainer.completedIterations).toBe(0);

    // resumeFrom 'latest': the checkpoint of iteration 1 is restored
    expect(await second.trainer.prepareOutputDir(outputDir, { resumeFrom: 'latest' })).toBe(path.join(outputDir, 'checkpoint-1'));
    expect(second.trainer.completedIterations).toBe(1);
    second.dispose();

    const third = makeTrainer(kind);
    expect(await third.trainer.prepareOutputDir(outputDir, { overwrite: true })).toBeNull();
    expect(third.trainer.completedIterations).toBe(0);
    expect(await fs.readdir(outputDir)).toEqual([]); // the previous checkpoint and metrics log are gone
    const missing = await rejection(third.trainer.prepareOutputDir(outputDir, { resumeFrom: 'latest' }));
    expect(missing.code).toBe(OUTPUT_DIR_ERROR_CODES.noCheckpoint);
    third.dispose();
  });
});
