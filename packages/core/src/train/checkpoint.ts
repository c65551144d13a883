import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import { removeDirectoryAtomic, replaceDirectoryAtomic } from '../io/atomic_write';
import { readSafetensors } from '../io/safetensors_reader';
import { writeSafetensors } from '../io/safetensors_writer';
import type { AdamW, OptimizerStateTensor } from '../optim/adamw';
import { parseTrainerState, TRAINER_STATE_ERROR_CODES, type TrainerState } from './trainer_state';
export type { TrainerState } from './trainer_state';

const CHECKPOINT_PREFIX = 'checkpoint-';
/** The name of a checkpoint folder: `checkpoint-<step>`. */
export const CHECKPOINT_NAME_PATTERN = /^checkpoint-(\d+)$/;
/** The files every complete trainer checkpoint holds (model files, when written, come beside them). */
export const TRAINER_CHECKPOINT_FILES = Object.freeze(['trainer_state.json', 'parameters.safetensors', 'optimizer.safetensors'] as const);

export interface SaveTrainerCheckpointOptions {
  /**
   * Writes what is needed to load the checkpoint as a model into the folder it is given (e.g. `config.json` +
   * `model.safetensors` + tokenizer files, or a PEFT adapter), as HF's Trainer does. It may replace that folder
   * whole (as `saveCausalLM` does). Its files land beside the trainer state, in the same atomic swap.
   */
  saveModel?: (directory: string) => Promise<void>;
}

/**
 * Writes `checkpoint-<step>/` atomically (temp dir + rename): `parameters.safetensors` (every trained variable by
 * name), `optimizer.safetensors`, `trainer_state.json`, and the model files `options.saveModel` writes. Then keeps
 * the newest `keep` checkpoints: only checkpoints of earlier steps are deleted (never this one or a later one),
 * each moved to a trash name first so that a kill mid-delete never leaves a half-deleted `checkpoint-N`.
 */
export async function saveTrainerCheckpoint(
  outputDir: string,
  parameters: ReadonlyMap<string, tf.Variable>,
  optimizer: AdamW,
  state: TrainerState,
  keep: number,
  options: SaveTrainerCheckpointOptions = {},
): Promise<string> {
  const directory = path.join(outputDir, `${CHECKPOINT_PREFIX}${state.step}`);
  const values = new Map([...parameters].map(([name, variable]) => [name, { data: variable.dataSync() as Float32Array, shape: [...variable.shape] }]));
  const optimizerState = optimizer.stateDict();
  await replaceDirectoryAtomic(directory, async (temporary) => {
    if (options.saveModel !== undefined) {
      const modelFiles = path.join(temporary, 'model-files');
      await options.saveModel(modelFiles);
      for (const name of await fs.readdir(modelFiles)) await fs.rename(path.join(modelFiles, name), path.join(temporary, name));
      await fs.rmdir(modelFiles);
    }
    await writeSafetensors(path.join(temporary, 'parameters.safetensors'), values);
    await writeSafetensors(path.join(temporary, 'optimizer.safetensors'), optimizerState.tensors, { metadata: { step: String(optimizerState.step) } });
    await fs.writeFile(path.join(temporary, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
  });
  const older = (await listCheckpoints(outputDir)).filter((checkpoint) => checkpoint.step < state.step);
  for (const old of older.slice(0, Math.max(0, older.length - (keep - 1)))) await removeDirectoryAtomic(old.directory);
  return directory;
}

/** Complete checkpoints (`checkpoint-<step>/` holding every file of TRAINER_CHECKPOINT_FILES) under a directory, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<Array<{ step: number; directory: string }>> {
  const all = await listCheckpointFolders(outputDir);
  const complete = await Promise.all(all.map((checkpoint) => isCompleteCheckpoint(checkpoint.directory)));
  return all.filter((_, i) => complete[i]);
}

/** Every `checkpoint-<step>` folder under a directory, complete or not, oldest first. */
export async function listCheckpointFolders(outputDir: string): Promise<Array<{ step: number; directory: string }>> {
  let names: string[];
  try {
    names = await fs.readdir(outputDir);
  } catch {
    return [];
  }
  return names
    .filter((name) => CHECKPOINT_NAME_PATTERN.test(name))
    .map((name) => ({ step: Number(name.slice(CHECKPOINT_PREFIX.length)), directory: path.join(outputDir, name) }))
    .sort((a, b) => a.step - b.step);
}

/** Whether a folder holds every file a trainer checkpoint needs (a checkpoint half-deleted by an old crash does not). */
export async function isCompleteCheckpoint(directory: string): Promise<boolean> {
  const present = await Promise.all(
    TRAINER_CHECKPOINT_FILES.map((name) =>
      fs.stat(path.join(directory, name)).then(
        (stat) => stat.isFile(),
        () => false,
      ),
    ),
  );
  return present.every((value) => value);
}

/** Reads and validates `<directory>/trainer_state.json` (see parseTrainerState); the step must match a `checkpoint-<step>` name. */
export async function readTrainerState(directory: string): Promise<TrainerState> {
  const file = path.join(directory, 'trainer_state.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new CheckpointError(`readTrainerState: ${file} cannot be read: ${(error as Error).message}`, { cause: error, code: TRAINER_STATE_ERROR_CODES.invalid });
  }
  const state = parseTrainerState(text, file);
  const named = CHECKPOINT_NAME_PATTERN.exec(path.basename(path.resolve(directory)));
  if (named !== null && Number(named[1]) !== state.step) {
    throw new CheckpointError(`${file}: field "step" is ${state.step}, but the folder is named for step ${named[1]}`, { code: TRAINER_STATE_ERROR_CODES.mismatch });
  }
  return state;
}

/** Restores parameters (assigned in place) and optimizer state; returns the validated trainer state. */
export async function loadTrainerCheckpoint(directory: string, parameters: ReadonlyMap<string, tf.Variable>, optimizer: AdamW): Promise<TrainerState> {
  const state = await readTrainerState(directory);
  const saved = (await readSafetensors(path.join(directory, 'parameters.safetensors'))).tensors;
  for (const [name, variable] of parameters) {
    const entry = saved.get(name);
    if (entry === undefined) throw new CheckpointError(`loadTrainerCheckpoint: ${directory} has no parameter "${name}"`);
    if (entry.shape.length !== variable.shape.length || entry.shape.some((size, i) => size !== variable.shape[i])) {
      throw new CheckpointError(`loadTrainerCheckpoint: parameter "${name}" is [${entry.shape}] in ${directory}, the model has [${variable.shape}]`);
    }
  }
  const optimizerPath = path.join(directory, 'optimizer.safetensors');
  const optimizerFile = await readSafetensors(optimizerPath);
  const optimizerStep = optimizerFile.metadata['step'] === undefined ? state.step : Number(optimizerFile.metadata['step']);
  if (!Number.isSafeInteger(optimizerStep) || optimizerStep < 0) {
    throw new CheckpointError(`${optimizerPath}: metadata "step" must be a non-negative integer, got ${JSON.stringify(optimizerFile.metadata['step'])}`, { code: TRAINER_STATE_ERROR_CODES.invalid });
  }
  const tensors = new Map<string, OptimizerStateTensor>(
    [...optimizerFile.tensors].map(([name, entry]) => [name, { data: entry.data as Float32Array, shape: [...entry.shape] }]),
  );
  optimizer.loadStateDict({ step: optimizerStep, tensors }, parameters);
  for (const [name, variable] of parameters) {
    const entry = saved.get(name);
    if (entry !== undefined) tf.tidy(() => variable.assign(tf.tensor(entry.data as Float32Array, [...entry.shape])));
  }
  return state;
}
