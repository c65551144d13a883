import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import { readSafetensors } from '../io/safetensors_reader';
import { writeSafetensors } from '../io/safetensors_writer';
import { AdamW } from '../optim/adamw';
import { listCheckpoints, loadTrainerCheckpoint, saveTrainerCheckpoint } from './checkpoint';

describe('trainer checkpoints', () => {
  let root = '';
  let counter = 0;
  const fresh = async (): Promise<string> => {
    const directory = path.join(root, `case-${counter++}`);
    await fs.mkdir(directory);
    return directory;
  };
  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-ckpt-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const save = (outputDir: string, parameters: Map<string, tf.Variable>, optimizer: AdamW, step: number, keep: number, saveModel?: (directory: string) => Promise<void>) =>
    saveTrainerCheckpoint(outputDir, parameters, optimizer, { step, consumed: step, seed: 1, extra: null }, keep, saveModel === undefined ? {} : { saveModel });

  it('rotation deletes only earlier checkpoints, never the one just written or a later one; saveModel files land inside', async () => {
    const outputDir = await fresh();
    const weight = tf.variable(tf.ones([2, 3]));
    const parameters = new Map([['weight', weight]]);
    const optimizer = new AdamW();
    const before = tf.memory().numTensors;
    await save(outputDir, parameters, optimizer, 20, 1); // e.g. a checkpoint of another run written by hand
    const saveModel = async (directory: string): Promise<void> => {
      await fs.mkdir(directory);
      await fs.writeFile(path.join(directory, 'config.json'), '{}');
    };
    for (const step of [2, 4, 6]) await save(outputDir, parameters, optimizer, step, 2, saveModel);
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([4, 6, 20]);
    expect((await fs.readdir(path.join(outputDir, 'checkpoint-6'))).sort()).toEqual(['config.json', 'optimizer.safetensors', 'parameters.safetensors', 'trainer_state.json']);
    await save(outputDir, parameters, optimizer, 8, 1);
    expect((await fs.readdir(outputDir)).sort()).toEqual(['checkpoint-20', 'checkpoint-8']); // no trash or temp folder left
    expect(tf.memory().numTensors).toBe(before);
    weight.dispose();
    optimizer.dispose();
  });

  it('a corrupt optimizer step in the metadata is a CheckpointError naming the file; nothing is assigned', async () => {
    const outputDir = await fresh();
    const weight = tf.variable(tf.ones([2, 3]));
    const optimizer = new AdamW();
    const directory = await save(outputDir, new Map([['weight', weight]]), optimizer, 3, 1);
    const file = path.join(directory, 'optimizer.safetensors');
    const { tensors } = await readSafetensors(file);
    await writeSafetensors(file, new Map([...tensors].map(([name, entry]) => [name, { data: entry.data as Float32Array, shape: [...entry.shape] }])), { metadata: { step: '-1.5' } });
    const target = tf.variable(tf.zeros([2, 3]));
    const error = await loadTrainerCheckpoint(directory, new Map([['weight', target]]), optimizer).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain(`${file}: metadata "step" must be a non-negative integer, got "-1.5"`);
    expect(target.dataSync()).toEqual(new Float32Array(6));
    for (const variable of [weight, target]) variable.dispose();
    optimizer.dispose();
  });
});
