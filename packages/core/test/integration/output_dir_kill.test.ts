// Crashes around checkpoints, reproduced with real child processes killed by SIGKILL at chosen points (issue 18,
// items 6 and 1): a resumed metrics log continues exactly after the checkpoint's step; a rotation killed mid-delete
// and a save killed before its rename leave nothing a later run trips over.
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError } from '../../src/errors/errors';
import { SFTTrainer } from '../../src/sft/sft_trainer';
import { listCheckpointFolders } from '../../src/train/checkpoint';
import { OUTPUT_DIR_ERROR_CODES } from '../../src/train/output_dir';
import { killAtMarker } from './support/kill_at_marker';
import { tinySftSetup } from './support/tiny_sft';

const WORKER = path.join(__dirname, 'workers', 'sft_run.ts');
const TRAIN_OPTIONS = { maxLength: 48, progress: false as const, batchSize: 4, learningRate: 2e-3 };

async function logSteps(outputDir: string): Promise<number[]> {
  const text = await fs.readFile(path.join(outputDir, 'sft_metrics.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { step: number; loss?: number })
    .filter((record) => record.loss !== undefined)
    .map((record) => record.step);
}

/** Resumes the run in `outputDir` in this process (same setup as the worker). */
async function resumeHere(outputDir: string, options: object): Promise<number[]> {
  const { model, tokenizer, train } = tinySftSetup();
  const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train }, { ...TRAIN_OPTIONS, ...options, outputDir, resumeFrom: 'latest' });
  try {
    const result = await trainer.train();
    return result.history.map((record) => record.step);
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

describe('checkpoints across SIGKILL', () => {
  let root = '';
  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-outkill-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('killed after step 7 (checkpoint 6): the resumed log is 1…8 with no step twice, nothing after 6 kept from the dead run', async () => {
    const outputDir = path.join(root, 'metrics');
    const marker = path.join(root, 'metrics.marker');
    await killAtMarker(WORKER, [outputDir, JSON.stringify({ maxSteps: 8, saveEvery: 2, saveTotalLimit: 2 })], { STOP_AFTER_STEP: '7', STOP_MARKER: marker }, marker);
    expect(await logSteps(outputDir)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await listCheckpointFolders(outputDir)).map((c) => c.step)).toEqual([4, 6]);
    const resumed = await resumeHere(outputDir, { maxSteps: 8, saveEvery: 2, saveTotalLimit: 2 });
    expect(resumed).toEqual([7, 8]);
    expect(await logSteps(outputDir)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await listCheckpointFolders(outputDir)).map((c) => c.step)).toEqual([6, 8]);
  }, 90_000);

  it('rotation killed between the rename to trash and the delete: the next run removes the trash and an old half-deleted checkpoint', async () => {
    const outputDir = path.join(root, 'rotation');
    const marker = path.join(root, 'rotation.marker');
    // saveTotalLimit 1: saving checkpoint-2 moves checkpoint-1 to the trash, where the worker stops
    const pid = await killAtMarker(WORKER, [outputDir, JSON.stringify({ maxSteps: 4, saveEvery: 1, saveTotalLimit: 1 })], { RLHFJS_TEST_PAUSE_AFTER_TRASH: marker }, marker);
    expect((await fs.readdir(outputDir)).sort()).toEqual([expect.stringMatching(new RegExp(`^checkpoint-1\\.trash-${pid}-[0-9a-f]+$`)), 'checkpoint-2', 'sft_metrics.jsonl']);
    // what a version that deleted in place left when killed mid-delete: a checkpoint folder missing its files
    await fs.mkdir(path.join(outputDir, 'checkpoint-0'));
    await fs.writeFile(path.join(outputDir, 'checkpoint-0', 'optimizer.safetensors'), 'half');
    expect(await resumeHere(outputDir, { maxSteps: 4, saveEvery: 1, saveTotalLimit: 1 })).toEqual([3, 4]);
    expect((await fs.readdir(outputDir)).sort()).toEqual(['checkpoint-4', 'sft_metrics.jsonl']);
    expect(await logSteps(outputDir)).toEqual([1, 2, 3, 4]);
  }, 90_000);

  it('a first save killed before its rename: resumeFrom latest is a CheckpointError (not a fresh start) and the temp folder is gone', async () => {
    const outputDir = path.join(root, 'first-save');
    const marker = path.join(root, 'first-save.marker');
    const pid = await killAtMarker(WORKER, [outputDir, JSON.stringify({ maxSteps: 4, saveEvery: 2 })], { RLHFJS_TEST_PAUSE_BEFORE_SWAP: marker }, marker);
    expect((await fs.readdir(outputDir)).sort()).toEqual([expect.stringMatching(new RegExp(`^checkpoint-2\\.tmp-${pid}-[0-9a-f]+$`)), 'sft_metrics.jsonl']);
    await expect(resumeHere(outputDir, { maxSteps: 4, saveEvery: 2 })).rejects.toThrow(CheckpointError);
    await expect(resumeHere(outputDir, { maxSteps: 4, saveEvery: 2 })).rejects.toMatchObject({ code: OUTPUT_DIR_ERROR_CODES.noCheckpoint, message: expect.stringContaining('found no checkpoint') });
    expect(await fs.readdir(outputDir)).toEqual(['sft_metrics.jsonl']);
  }, 90_000);
});
