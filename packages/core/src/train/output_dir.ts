import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import { removeDirectoryAtomic, removeDirectoryLeftovers, writeFileAtomic } from '../io/atomic_write';
import { CHECKPOINT_NAME_PATTERN, isCompleteCheckpoint, listCheckpointFolders, listCheckpoints, readTrainerState } from './checkpoint';
import type { TrainerState } from './trainer_state';

/** Error codes of output directories and resumption. */
export const OUTPUT_DIR_ERROR_CODES = Object.freeze({
  /** The output directory holds another run and neither overwriting nor resuming was asked for. */
  inUse: 'OUTPUT_DIR_IN_USE',
  /** `resumeFrom` names no checkpoint ('latest' with none under the output directory, or a missing folder). */
  noCheckpoint: 'CHECKPOINT_NOT_FOUND',
  /** The checkpoint cannot continue this run (its step is beyond the run's total steps). */
  mismatch: 'CHECKPOINT_TRAINER_STATE_MISMATCH',
});

/** Files that mark a directory as holding a run (besides `checkpoint-<step>/` folders and `*_metrics.jsonl`). */
const MODEL_FILES = ['model.safetensors', 'model.safetensors.index.json', 'adapter_model.safetensors', 'trainer_state.json'];

/** What in a directory shows that a run wrote there: checkpoint folders, metrics logs, saved models. */
export async function previousRunFiles(outputDir: string, runFiles: readonly string[] = []): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(outputDir);
  } catch {
    return [];
  }
  return names.filter((name) => CHECKPOINT_NAME_PATTERN.test(name) || name.endsWith('_metrics.jsonl') || MODEL_FILES.includes(name) || runFiles.includes(name)).sort(naturalOrder);
}

/**
 * Removes what crashes left under an output directory (only by processes no longer running): `checkpoint-N.tmp-*`
 * folders of interrupted saves, `.old-*` folders of interrupted swaps (renamed back when `checkpoint-N` is missing),
 * `.trash-*` folders of interrupted deletes, and `checkpoint-N/` folders missing one of the trainer files (left
 * half-deleted by a version that deleted in place). Returns the incomplete checkpoint folders removed.
 */
export async function cleanOutputDir(outputDir: string): Promise<string[]> {
  await removeDirectoryLeftovers(outputDir, CHECKPOINT_NAME_PATTERN);
  const removed: string[] = [];
  for (const checkpoint of await listCheckpointFolders(outputDir)) {
    if (await isCompleteCheckpoint(checkpoint.directory)) continue;
    await removeDirectoryAtomic(checkpoint.directory);
    removed.push(checkpoint.directory);
  }
  return removed;
}

export interface OutputDirRequest {
  /** Who asks, for messages (e.g. 'sft trainer'). */
  where: string;
  outputDir: string;
  /** This run's metrics log file name under outputDir (e.g. 'sft_metrics.jsonl'). */
  metricsLog: string;
  /** Other files of a run (e.g. a cache): they mark the directory as used and overwrite removes them. */
  runFiles?: readonly string[];
  /** Replace a previous run's checkpoints and metrics logs. */
  overwrite: boolean;
  /** A checkpoint folder, 'latest' (the newest under outputDir), or null for a fresh run. */
  resumeFrom: string | null;
  /** Steps this run will do in all; a checkpoint beyond it is refused. */
  totalSteps: number;
  /** Only the writer (rank 0) changes the directory; every rank validates. */
  writer: boolean;
}

export interface PreparedOutputDir {
  /** The checkpoint folder to resume from, or null for a fresh run. */
  resumeDirectory: string | null;
  /** Its validated trainer state. */
  resumeState: TrainerState | null;
}

/**
 * Makes an output directory ready for a run, before anything is trained:
 * - removes crash leftovers (`cleanOutputDir`);
 * - resolves `resumeFrom` ('latest' with no checkpoint, or a missing folder, is a CheckpointError, never a silent
 *   fresh start) and validates its `trainer_state.json` (a step beyond `totalSteps` is refused);
 * - refuses a directory that holds another run (checkpoints, metrics logs, a saved model) unless the run resumes a
 *   checkpoint of that directory or `overwrite` is set; overwriting removes the previous checkpoints and metrics logs
 *   (model files are left to be replaced atomically by the final save);
 * - when resuming a checkpoint of the directory: deletes its checkpoints of later steps (the abandoned future of the
 *   run, which rotation would otherwise prefer over the new ones) and cuts the metrics log back to the records with
 *   step ≤ the checkpoint's step, atomically, so the resumed log continues exactly after it.
 */
export async function prepareOutputDir(request: OutputDirRequest): Promise<PreparedOutputDir> {
  const { where, outputDir, writer } = request;
  if (writer) await cleanOutputDir(outputDir);
  let resumeDirectory: string | null = null;
  if (request.resumeFrom === 'latest') {
    const latest = (await listCheckpoints(outputDir)).pop();
    if (latest === undefined) {
      throw new CheckpointError(`${where}: resumeFrom 'latest' found no checkpoint-<step> folder under ${outputDir}; drop resumeFrom (--resume-from) to start a fresh run`, {
        code: OUTPUT_DIR_ERROR_CODES.noCheckpoint,
      });
    }
    resumeDirectory = latest.directory;
  } else if (request.resumeFrom !== null) {
    resumeDirectory = request.resumeFrom;
    const stat = await fs.stat(resumeDirectory).catch(() => null);
    if (stat === null || !stat.isDirectory()) {
      throw new CheckpointError(`${where}: resumeFrom ${resumeDirectory} is not a checkpoint folder (it does not exist or is not a directory)`, { code: OUTPUT_DIR_ERROR_CODES.noCheckpoint });
    }
  }
  let resumeState: TrainerState | null = null;
  if (resumeDirectory !== null) {
    resumeState = await readTrainerState(resumeDirectory);
    if (resumeState.step > request.totalSteps) {
      throw new CheckpointError(
        `${where}: ${path.join(resumeDirectory, 'trainer_state.json')} field "step" is ${resumeState.step}, beyond this run's ${request.totalSteps} steps; raise maxSteps (--max-steps) or resume another checkpoint`,
        { code: OUTPUT_DIR_ERROR_CODES.mismatch },
      );
    }
  }
  const resumingHere = resumeDirectory !== null && path.resolve(path.dirname(path.resolve(resumeDirectory))) === path.resolve(outputDir);
  if (resumingHere && request.overwrite) {
    throw new CheckpointError(`${where}: overwriteOutputDir (--overwrite) would delete ${resumeDirectory}, the checkpoint resumeFrom names; pass one of them`, { code: OUTPUT_DIR_ERROR_CODES.inUse });
  }
  const previous = await previousRunFiles(outputDir, request.runFiles ?? []);
  if (resumingHere) {
    if (writer) await rewindRun(outputDir, request.metricsLog, resumeState as TrainerState);
  } else if (previous.length > 0) {
    if (!request.overwrite) {
      const shown = previous.length > 4 ? [...previous.slice(0, 4), `${previous.length - 4} more`] : previous;
      throw new CheckpointError(
        `${where}: output directory ${outputDir} holds another run (${shown.join(', ')}); pass overwriteOutputDir: true (--overwrite) to replace it, or resumeFrom: 'latest' (--resume-from latest) to continue it`,
        { code: OUTPUT_DIR_ERROR_CODES.inUse },
      );
    }
    if (writer) await removePreviousRun(outputDir, previous, request.runFiles ?? []);
  }
  return { resumeDirectory, resumeState };
}

/** Deletes the checkpoints of steps after `state.step` and cuts the metrics log back to step ≤ `state.step`. */
async function rewindRun(outputDir: string, metricsLog: string, state: TrainerState): Promise<void> {
  for (const checkpoint of await listCheckpointFolders(outputDir)) {
    if (checkpoint.step > state.step) await removeDirectoryAtomic(checkpoint.directory);
  }
  await truncateMetricsLog(path.join(outputDir, metricsLog), state.step);
}

/** Removes a previous run's checkpoints, metrics logs and run files (overwriteOutputDir). */
async function removePreviousRun(outputDir: string, previous: readonly string[], runFiles: readonly string[]): Promise<void> {
  for (const name of previous) {
    if (CHECKPOINT_NAME_PATTERN.test(name)) await removeDirectoryAtomic(path.join(outputDir, name));
    else if (name.endsWith('_metrics.jsonl') || runFiles.includes(name)) await fs.rm(path.join(outputDir, name), { force: true });
  }
}

/**
 * Keeps the records of a JSONL metrics log with `step` ≤ `lastStep` (a torn last line of a killed process and any
 * line that is not a record are dropped), replacing the file atomically. A missing log stays missing.
 */
export async function truncateMetricsLog(file: string, lastStep: number): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new CheckpointError(`truncateMetricsLog: cannot read ${file} (${(error as Error).message})`, { cause: error });
  }
  const kept = text.split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      const record = JSON.parse(line) as { step?: unknown };
      return typeof record === 'object' && record !== null && typeof record.step === 'number' && record.step <= lastStep;
    } catch {
      return false;
    }
  });
  await writeFileAtomic(file, kept.map((line) => `${line}\n`).join(''));
  return kept.length;
}

function naturalOrder(left: string, right: string): number {
  return left.localeCompare(right, 'en', { numeric: true });
}
