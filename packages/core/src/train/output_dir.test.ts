import { spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import { listCheckpoints } from './checkpoint';
import { cleanOutputDir, OUTPUT_DIR_ERROR_CODES, prepareOutputDir, previousRunFiles, truncateMetricsLog, type OutputDirRequest } from './output_dir';
import { TRAINER_STATE_ERROR_CODES } from './trainer_state';

let root = '';
let counter = 0;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-outdir-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const directory = path.join(root, `run-${counter++}`);
  await fs.mkdir(directory);
  return directory;
}

/** A checkpoint folder as saveTrainerCheckpoint writes it (the tensor files' content does not matter here). */
async function fakeCheckpoint(outputDir: string, step: number, state: unknown = { step, consumed: step * 4, seed: 42, extra: null }): Promise<string> {
  const directory = path.join(outputDir, `checkpoint-${step}`);
  await fs.mkdir(directory);
  await fs.writeFile(path.join(directory, 'trainer_state.json'), JSON.stringify(state));
  for (const name of ['parameters.safetensors', 'optimizer.safetensors']) await fs.writeFile(path.join(directory, name), 'tensors');
  return directory;
}

async function writeLog(outputDir: string, steps: readonly number[], tail = ''): Promise<void> {
  await fs.writeFile(path.join(outputDir, 'sft_metrics.jsonl'), steps.map((step) => `${JSON.stringify({ stage: 'sft', step, loss: 1 / step })}\n`).join('') + tail);
}

async function readLogSteps(outputDir: string): Promise<number[]> {
  const text = await fs.readFile(path.join(outputDir, 'sft_metrics.jsonl'), 'utf8');
  return text.trim() === '' ? [] : text.trim().split('\n').map((line) => (JSON.parse(line) as { step: number }).step);
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

function request(outputDir: string, overrides: Partial<OutputDirRequest> = {}): OutputDirRequest {
  return { where: 'sft trainer', outputDir, metricsLog: 'sft_metrics.jsonl', overwrite: false, resumeFrom: null, totalSteps: 10, writer: true, ...overrides };
}

async function rejection(promise: Promise<unknown>): Promise<CheckpointError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('prepareOutputDir', () => {
  it('a missing or unrelated directory starts a fresh run', async () => {
    const outputDir = await freshDir();
    await fs.writeFile(path.join(outputDir, 'notes.txt'), 'mine');
    expect(await prepareOutputDir(request(outputDir))).toEqual({ resumeDirectory: null, resumeState: null });
    expect(await prepareOutputDir(request(path.join(outputDir, 'not-yet')))).toEqual({ resumeDirectory: null, resumeState: null });
  });

  it.each([
    ['a checkpoint', async (dir: string) => void (await fakeCheckpoint(dir, 20)), 'checkpoint-20'],
    ['a metrics log', async (dir: string) => writeLog(dir, [1, 2]), 'sft_metrics.jsonl'],
    ['another stage’s metrics log', async (dir: string) => fs.writeFile(path.join(dir, 'dpo_metrics.jsonl'), ''), 'dpo_metrics.jsonl'],
    ['a saved model', async (dir: string) => fs.writeFile(path.join(dir, 'model.safetensors'), ''), 'model.safetensors'],
    ['a saved adapter', async (dir: string) => fs.writeFile(path.join(dir, 'adapter_model.safetensors'), ''), 'adapter_model.safetensors'],
  ])('a directory holding %s is refused, naming what it holds and both ways out', async (_, make, name) => {
    const outputDir = await freshDir();
    await make(outputDir);
    const before = (await fs.readdir(outputDir)).sort();
    const error = await rejection(prepareOutputDir(request(outputDir)));
    expect(error.code).toBe(OUTPUT_DIR_ERROR_CODES.inUse);
    expect(error.message).toContain(`output directory ${outputDir} holds another run (${name})`);
    expect(error.message).toMatch(/--overwrite.*--resume-from latest/);
    expect((await fs.readdir(outputDir)).sort()).toEqual(before); // nothing touched
  });

  it('overwrite removes the previous checkpoints and metrics logs, keeps other files (the model is replaced atomically later)', async () => {
    const outputDir = await freshDir();
    for (const step of [10, 20]) await fakeCheckpoint(outputDir, step);
    await writeLog(outputDir, [1, 2, 3]);
    for (const name of ['model.safetensors', 'notes.txt']) await fs.writeFile(path.join(outputDir, name), name);
    expect(await previousRunFiles(outputDir)).toEqual(['checkpoint-10', 'checkpoint-20', 'model.safetensors', 'sft_metrics.jsonl']);
    await prepareOutputDir(request(outputDir, { overwrite: true }));
    expect((await fs.readdir(outputDir)).sort()).toEqual(['model.safetensors', 'notes.txt']);
  });

  it("resumeFrom 'latest' with no checkpoint is a CheckpointError, not a fresh start", async () => {
    const outputDir = await freshDir();
    await writeLog(outputDir, [1]);
    const error = await rejection(prepareOutputDir(request(outputDir, { resumeFrom: 'latest' })));
    expect(error.code).toBe(OUTPUT_DIR_ERROR_CODES.noCheckpoint);
    expect(error.message).toContain(`found no checkpoint-<step> folder under ${outputDir}`);
    const missing = await rejection(prepareOutputDir(request(outputDir, { resumeFrom: path.join(outputDir, 'checkpoint-7') })));
    expect(missing.code).toBe(OUTPUT_DIR_ERROR_CODES.noCheckpoint);
  });

  it('a checkpoint beyond the run’s total steps is refused before anything is loaded', async () => {
    const outputDir = await freshDir();
    await fakeCheckpoint(outputDir, 20);
    const error = await rejection(prepareOutputDir(request(outputDir, { resumeFrom: 'latest', totalSteps: 6 })));
    expect(error.code).toBe(OUTPUT_DIR_ERROR_CODES.mismatch);
    expect(error.message).toContain(`${path.join(outputDir, 'checkpoint-20', 'trainer_state.json')} field "step" is 20, beyond this run's 6 steps`);
  });

  it('a trainer_state.json whose step disagrees with the folder name (1e9 in checkpoint-4) names the file', async () => {
    const outputDir = await freshDir();
    await fakeCheckpoint(outputDir, 4, { step: 1e9, consumed: 4, seed: 42, extra: null });
    const error = await rejection(prepareOutputDir(request(outputDir, { resumeFrom: 'latest' })));
    expect(error.code).toBe(TRAINER_STATE_ERROR_CODES.mismatch);
    expect(error.message).toContain(path.join(outputDir, 'checkpoint-4', 'trainer_state.json'));
    expect(error.message).toContain('field "step" is 1000000000');
  });

  it('a corrupt trainer_state.json ({}) is a CheckpointError naming the file', async () => {
    const outputDir = await freshDir();
    await fakeCheckpoint(outputDir, 4, {});
    const error = await rejection(prepareOutputDir(request(outputDir, { resumeFrom: 'latest' })));
    expect(error.message).toContain(path.join(outputDir, 'checkpoint-4', 'trainer_state.json'));
    expect(error.message).toContain('field "step" is missing');
  });

  it('resuming a checkpoint of the directory deletes its later checkpoints and cuts the log back to that step (torn last line dropped)', async () => {
    const outputDir = await freshDir();
    for (const step of [2, 4, 6]) await fakeCheckpoint(outputDir, step);
    await writeLog(outputDir, [1, 2, 3, 4, 5, 6, 7], '{"stage":"sft","step":8,"lo');
    const prepared = await prepareOutputDir(request(outputDir, { resumeFrom: path.join(outputDir, 'checkpoint-4') }));
    expect(prepared.resumeState).toEqual({ step: 4, consumed: 16, seed: 42, extra: null });
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([2, 4]);
    expect(await readLogSteps(outputDir)).toEqual([1, 2, 3, 4]);
  });

  it('overwrite together with resuming a checkpoint of the same directory is refused (it would delete that checkpoint)', async () => {
    const outputDir = await freshDir();
    await fakeCheckpoint(outputDir, 2);
    const error = await rejection(prepareOutputDir(request(outputDir, { resumeFrom: path.join(outputDir, 'checkpoint-2'), overwrite: true })));
    expect(error.code).toBe(OUTPUT_DIR_ERROR_CODES.inUse);
    expect(await listCheckpoints(outputDir)).toHaveLength(1);
  });

  it('resuming a checkpoint of another directory into a used one is refused; into an empty one it is a fresh log', async () => {
    const source = await freshDir();
    const checkpoint = await fakeCheckpoint(source, 2);
    const used = await freshDir();
    await writeLog(used, [1, 2, 3]);
    expect((await rejection(prepareOutputDir(request(used, { resumeFrom: checkpoint })))).code).toBe(OUTPUT_DIR_ERROR_CODES.inUse);
    const empty = await freshDir();
    expect((await prepareOutputDir(request(empty, { resumeFrom: checkpoint }))).resumeDirectory).toBe(checkpoint);
  });

  it('a reader (rank ≠ 0) validates but changes nothing', async () => {
    const outputDir = await freshDir();
    for (const step of [2, 4]) await fakeCheckpoint(outputDir, step);
    await writeLog(outputDir, [1, 2, 3, 4, 5]);
    await prepareOutputDir(request(outputDir, { resumeFrom: path.join(outputDir, 'checkpoint-2'), writer: false }));
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([2, 4]);
    expect(await readLogSteps(outputDir)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('cleanOutputDir', () => {
  it('removes leftovers of dead processes and half-deleted checkpoints; restores a checkpoint swapped out mid-replace; keeps live ones', async () => {
    const outputDir = await freshDir();
    const dead = deadPid();
    await fakeCheckpoint(outputDir, 2);
    await fs.mkdir(path.join(outputDir, `checkpoint-4.tmp-${dead}-abc123`)); // a save killed before its rename
    await fs.mkdir(path.join(outputDir, `checkpoint-1.trash-${dead}-abc123`)); // a rotation killed mid-delete
    const half = path.join(outputDir, 'checkpoint-3'); // deleted in place by an old version, killed half-way
    await fs.mkdir(half);
    await fs.writeFile(path.join(half, 'optimizer.safetensors'), 'x');
    // a replace of checkpoint-6 killed between its two renames: the old folder under .old, the name missing
    const swapped = await fakeCheckpoint(outputDir, 6);
    await fs.rename(swapped, path.join(outputDir, `checkpoint-6.old-${dead}-def456`));
    const live = `checkpoint-8.tmp-${process.ppid}-abc123`; // our parent is alive
    await fs.mkdir(path.join(outputDir, live));
    expect(await cleanOutputDir(outputDir)).toEqual([half]);
    expect((await fs.readdir(outputDir)).sort()).toEqual(['checkpoint-2', 'checkpoint-6', live]);
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([2, 6]);
  });
});

describe('truncateMetricsLog', () => {
  it('keeps records with step ≤ the last step, drops torn and foreign lines, and leaves a missing log missing', async () => {
    const outputDir = await freshDir();
    await writeLog(outputDir, [1, 2, 3, 2, 9], 'garbage\n{"step":"x"}\n');
    expect(await truncateMetricsLog(path.join(outputDir, 'sft_metrics.jsonl'), 2)).toBe(3);
    expect(await readLogSteps(outputDir)).toEqual([1, 2, 2]);
    expect(await truncateMetricsLog(path.join(outputDir, 'none.jsonl'), 2)).toBe(0);
    expect(await fs.readdir(outputDir)).toEqual(['sft_metrics.jsonl']);
  });
});
