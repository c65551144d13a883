import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError, readSafetensors, replaceDirectoryAtomic, writeSafetensors, type AdamW, type OptimizerStateTensor } from '@rlhfjs/core';

/**
 * Trainer checkpoints in the layout of core's trainer: `checkpoint-<step>/` holding `parameters.safetensors` (every
 * trained variable by name: the whole backbone, or only LoRA adapters, plus `score.weight`), `optimizer.safetensors`
 * and `trainer_state.json`. (To be replaced by core's checkpoint helpers once core exports them.)
 */
export interface RewardTrainerState {
  step: number;
  /** Pairs consumed so far across ranks (the data position; each epoch's order comes from the seed). */
  consumed: number;
  seed: number;
}

const PREFIX = 'checkpoint-';

export async function saveRewardTrainerCheckpoint(outputDir: string, parameters: ReadonlyMap<string, tf.Variable>, optimizer: AdamW, state: RewardTrainerState): Promise<string> {
  const directory = path.join(outputDir, `${PREFIX}${state.step}`);
  const values = new Map([...parameters].map(([name, variable]) => [name, { data: Float32Array.from(variable.dataSync()), shape: [...variable.shape] }]));
  const optimizerState = optimizer.stateDict();
  await fs.mkdir(outputDir, { recursive: true });
  await replaceDirectoryAtomic(directory, async (temporary) => {
    await writeSafetensors(path.join(temporary, 'parameters.safetensors'), values);
    await writeSafetensors(path.join(temporary, 'optimizer.safetensors'), optimizerState.tensors, { metadata: { step: String(optimizerState.step) } });
    await fs.writeFile(path.join(temporary, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
  });
  return directory;
}

export async function latestRewardTrainerCheckpoint(outputDir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await fs.readdir(outputDir);
  } catch {
    return null;
  }
  const steps = names.filter((name) => /^checkpoint-\d+$/.test(name)).map((name) => Number(name.slice(PREFIX.length)));
  return steps.length === 0 ? null : path.join(outputDir, `${PREFIX}${Math.max(...steps)}`);
}

/** Checks every parameter first, then restores optimizer state and parameters (in place). */
export async function loadRewardTrainerCheckpoint(directory: string, parameters: ReadonlyMap<string, tf.Variable>, optimizer: AdamW): Promise<RewardTrainerState> {
  let state: RewardTrainerState;
  try {
    state = JSON.parse(await fs.readFile(path.join(directory, 'trainer_state.json'), 'utf8')) as RewardTrainerState;
  } catch (error) {
    throw new CheckpointError(`RewardTrainer: cannot read ${path.join(directory, 'trainer_state.json')}: ${(error as Error).message}`, { cause: error });
  }
  const saved = (await readSafetensors(path.join(directory, 'parameters.safetensors'))).tensors;
  const problems: string[] = [];
  for (const [name, variable] of parameters) {
    const entry = saved.get(name);
    if (entry === undefined) problems.push(`no parameter "${name}"`);
    else if (entry.shape.length !== variable.shape.length || entry.shape.some((size, i) => size !== variable.shape[i])) {
      problems.push(`"${name}" is [${entry.shape}] in the checkpoint, [${variable.shape}] in the model`);
    }
  }
  if (problems.length > 0) {
    throw new CheckpointError(`RewardTrainer: checkpoint ${directory} does not fit the model being trained (same LoRA setup?): ${problems.slice(0, 5).join('; ')}`);
  }
  const optimizerFile = await readSafetensors(path.join(directory, 'optimizer.safetensors'));
  const tensors = new Map<string, OptimizerStateTensor>([...optimizerFile.tensors].map(([name, entry]) => [name, { data: entry.data as Float32Array, shape: [...entry.shape] }]));
  optimizer.loadStateDict({ step: Number(optimizerFile.metadata['step'] ?? state.step), tensors }, parameters);
  for (const [name, variable] of parameters) {
    const entry = saved.get(name);
    if (entry !== undefined) tf.tidy(() => variable.assign(tf.tensor(entry.data as Float32Array, [...entry.shape])));
  }
  return state;
}
