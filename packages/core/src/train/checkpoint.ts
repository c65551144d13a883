import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import { replaceDirectoryAtomic } from '../io/atomic_write';
import { readSafetensors } from '../io/safetensors_reader';
import { writeSafetensors } from '../io/safetensors_writer';
import type { AdamW, OptimizerStateTensor } from '../optim/adamw';

/** What a trainer checkpoint holds besides parameters and optimizer state. */
export interface TrainerState {
  step: number;
  /** Examples consumed so far (the data position); the epoch order is derived from the seed. */
  consumed: number;
  seed: number;
  /** Trainer-specific state (KL controller, RNG, running means). */
  extra: unknown;
}

const CHECKPOINT_PREFIX = 'checkpoint-';

/**
 * Writes `checkpoint-<step>/` atomically (temp dir + rename): `parameters.safetensors` (every trained variable by
 * name), `optimizer.safetensors`, `trainer_state.json`. Keeps the newest `keep` checkpoints.
 */
export async function saveTrainerCheckpoint(
  outputDir: string,
  parameters: ReadonlyMap<string, tf.Variable>,
  optimizer: AdamW,
  state: TrainerState,
  keep: number,
): Promise<string> {
  const directory = path.join(outputDir, `${CHECKPOINT_PREFIX}${state.step}`);
  const values = new Map([...parameters].map(([name, variable]) => [name, { data: variable.dataSync() as Float32Array, shape: [...variable.shape] }]));
  const optimizerState = optimizer.stateDict();
  await replaceDirectoryAtomic(directory, async (temporary) => {
    await writeSafetensors(path.join(temporary, 'parameters.safetensors'), values);
    await writeSafetensors(path.join(temporary, 'optimizer.safetensors'), optimizerState.tensors, { metadata: { step: String(optimizerState.step) } });
    await fs.writeFile(path.join(temporary, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
  });
  const existing = await listCheckpoints(outputDir);
  for (const old of existing.slice(0, Math.max(0, existing.length - keep))) await fs.rm(old.directory, { recursive: true, force: true });
  return directory;
}

/** Checkpoints under a directory, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<Array<{ step: number; directory: string }>> {
  let names: string[];
  try {
    names = await fs.readdir(outputDir);
  } catch {
    return [];
  }
  return names
    .filter((name) => new RegExp(`^${CHECKPOINT_PREFIX}\\d+$`).test(name))
    .map((name) => ({ step: Number(name.slice(CHECKPOINT_PREFIX.length)), directory: path.join(outputDir, name) }))
    .sort((a, b) => a.step - b.step);
}

/** Restores parameters (assigned in place) and optimizer state; returns the trainer state. */
export async function loadTrainerCheckpoint(directory: string, parameters: ReadonlyMap<string, tf.Variable>, optimizer: AdamW): Promise<TrainerState> {
  let state: TrainerState;
  try {
    state = JSON.parse(await fs.readFile(path.join(directory, 'trainer_state.json'), 'utf8')) as TrainerState;
  } catch (error) {
    throw new CheckpointError(`loadTrainerCheckpoint: ${directory}/trainer_state.json cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const saved = (await readSafetensors(path.join(directory, 'parameters.safetensors'))).tensors;
  for (const [name, variable] of parameters) {
    const entry = saved.get(name);
    if (entry === undefined) throw new CheckpointError(`loadTrainerCheckpoint: ${directory} has no parameter "${name}"`);
    if (entry.shape.length !== variable.shape.length || entry.shape.some((size, i) => size !== variable.shape[i])) {
      throw new CheckpointError(`loadTrainerCheckpoint: parameter "${name}" is [${entry.shape}] in ${directory}, the model has [${variable.shape}]`);
    }
  }
  const optimizerFile = await readSafetensors(path.join(directory, 'optimizer.safetensors'));
  const tensors = new Map<string, OptimizerStateTensor>(
    [...optimizerFile.tensors].map(([name, entry]) => [name, { data: entry.data as Float32Array, shape: [...entry.shape] }]),
  );
  optimizer.loadStateDict({ step: Number(optimizerFile.metadata['step'] ?? state.step), tensors }, parameters);
  for (const [name, variable] of parameters) {
    const entry = saved.get(name);
    if (entry !== undefined) tf.tidy(() => variable.assign(tf.tensor(entry.data as Float32Array, [...entry.shape])));
  }
  return state;
}
