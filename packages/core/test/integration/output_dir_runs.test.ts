// Output directories across runs, in-process (issue 18 items 1 and 5, issue 17's loadable checkpoints): a directory
// holding another run is refused unless overwriting or resuming; overwriting never mixes runs; a checkpoint that
// cannot continue the run is refused before anything trains; checkpoint-N/ loads as a model.
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError } from '../../src/errors/errors';
import type { CausalLM } from '../../src/model/causal_lm';
import { loadCausalLM, modelStateDict } from '../../src/model/model_factory';
import { SFTTrainer, type SFTTrainerOptions } from '../../src/sft/sft_trainer';
import { loadTokenizer } from '../../src/tokenizer/tokenizer';
import { listCheckpoints } from '../../src/train/checkpoint';
import { OUTPUT_DIR_ERROR_CODES } from '../../src/train/output_dir';
import { TRAINER_STATE_ERROR_CODES } from '../../src/train/trainer_state';
import { tinySftSetup } from './support/tiny_sft';

const BASE: SFTTrainerOptions = { maxLength: 48, progress: false, batchSize: 4, learningRate: 2e-3 };

async function logSteps(outputDir: string): Promise<number[]> {
  const text = await fs.readFile(path.join(outputDir, 'sft_metrics.jsonl'), 'utf8');
  return text.trim().split('\n').map((line) => (JSON.parse(line) as { step: number }).step);
}

function weights(model: CausalLM): Float32Array {
  return model.tensor('transformer.wte.weight').dataSync().slice() as Float32Array;
}

describe('SFTTrainer output directories', () => {
  let root = '';
  const setup = tinySftSetup();
  const { model, tokenizer, train } = setup;
  const run = async (outputDir: string, options: SFTTrainerOptions) => {
    const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train }, { ...BASE, ...options, outputDir });
    try {
      return await trainer.train();
    } finally {
      trainer.dispose();
    }
  };

  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-outruns-'));
  });
  afterAll(async () => {
    model.dispose();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('a second run into the same directory is refused untouched; --overwrite replaces it without mixing; resuming a checkpoint beyond the run is refused', async () => {
    const outputDir = path.join(root, 'reuse');
    const baseline = tf.memory().numTensors;
    await run(outputDir, { maxSteps: 6, saveEvery: 3 });
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([3, 6]);

    const before = weights(model);
    const refused = run(outputDir, { maxSteps: 4, saveEvery: 2 });
    await expect(refused).rejects.toThrow(CheckpointError);
    await expect(run(outputDir, { maxSteps: 4, saveEvery: 2 })).rejects.toMatchObject({ code: OUTPUT_DIR_ERROR_CODES.inUse, message: expect.stringContaining('holds another run (checkpoint-3, checkpoint-6, sft_metrics.jsonl)') });
    expect(weights(model)).toEqual(before); // nothing trained
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([3, 6]);

    // the case: the old run's checkpoint-6 outranks the new 2 and 4 in rotation unless it is gone
    const replaced = await run(outputDir, { maxSteps: 4, saveEvery: 2, overwriteOutputDir: true });
    expect(replaced.steps).toBe(4);
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([2, 4]);
    expect(await logSteps(outputDir)).toEqual([1, 2, 3, 4]);

    const trained = weights(model);
    await expect(run(outputDir, { maxSteps: 2, resumeFrom: 'latest' })).rejects.toMatchObject({ code: OUTPUT_DIR_ERROR_CODES.mismatch, message: expect.stringContaining("beyond this run's 2 steps") });
    expect(weights(model)).toEqual(trained);
    expect(tf.memory().numTensors).toBe(baseline);
  }, 60_000);

  it('checkpoint-N/ holds config.json, model.safetensors and the tokenizer: it loads as the model of step N', async () => {
    const outputDir = path.join(root, 'loadable');
    await run(outputDir, { maxSteps: 2, saveEvery: 2 });
    const checkpoint = path.join(outputDir, 'checkpoint-2');
    expect((await fs.readdir(checkpoint)).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'parameters.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json']);
    const loaded = await loadCausalLM(checkpoint);
    try {
      const expected = modelStateDict(model);
      const actual = modelStateDict(loaded);
      expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [name, entry] of expected) expect(actual.get(name)?.data).toEqual(entry.data);
    } finally {
      loaded.dispose();
    }
    const reloadedTokenizer = await loadTokenizer(checkpoint);
    expect(reloadedTokenizer.encode('3+4=7')).toEqual(tokenizer.encode('3+4=7'));
  }, 60_000);

  it.each([
    ['step "abc"', { step: 'abc', consumed: 8, seed: 42, extra: null }, TRAINER_STATE_ERROR_CODES.invalid, 'field "step" must be a non-negative integer, got "abc"'],
    ['step 1e9', { step: 1e9, consumed: 8, seed: 42, extra: null }, TRAINER_STATE_ERROR_CODES.mismatch, 'field "step" is 1000000000'],
    ['consumed -8', { step: 2, consumed: -8, seed: 42, extra: null }, TRAINER_STATE_ERROR_CODES.invalid, 'field "consumed" must be a non-negative integer, got -8'],
  ])('a trainer_state.json with %s stops the resumed run with a CheckpointError naming the file; nothing trains', async (_, state, code, text) => {
    const outputDir = path.join(root, `corrupt-${code}-${text.length}`);
    await run(outputDir, { maxSteps: 2, saveEvery: 2 });
    const file = path.join(outputDir, 'checkpoint-2', 'trainer_state.json');
    await fs.writeFile(file, JSON.stringify(state));
    const before = weights(model);
    await expect(run(outputDir, { maxSteps: 4, resumeFrom: 'latest' })).rejects.toMatchObject({ name: 'CheckpointError', code, message: expect.stringContaining(file) });
    await expect(run(outputDir, { maxSteps: 4, resumeFrom: 'latest' })).rejects.toThrow(text);
    expect(weights(model)).toEqual(before);
  }, 60_000);
});
