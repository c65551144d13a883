/**
 * Hugging Face checkpoint directories: a single `model.safetensors`, or shards
 * `model-00001-of-00003.safetensors` … listed by `model.safetensors.index.json`
 * (`{"metadata": {"total_size": bytes}, "weight_map": {tensorName: shardFile}}`), as `save_pretrained` writes them.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError, ConfigError } from '../errors/errors';
import { writeFileAtomic } from './atomic_write';
import { findDuplicateJsonKey } from './safetensors_format';
import { readSafetensors, readSafetensorsHeader, type TensorEntry } from './safetensors_reader';
import {
  planSafetensors,
  resolveWriteSafetensorsConfig,
  writePlannedSafetensors,
  type FloatStorageDtype,
  type PlannedTensor,
  type WritableTensor,
  type WritableTensors,
} from './safetensors_writer';

const INVALID_INDEX = 'CHECKPOINT_INDEX_INVALID';

export interface ReadCheckpointOptions {
  /** Which tensors to read (all when absent). */
  readonly names?: (name: string) => boolean;
  /** Default 'model.safetensors'; the index is `<weightsName>.index.json`. */
  readonly weightsName?: string;
}

/**
 * Reads every tensor of a checkpoint directory into one map. Like transformers, a single weights file wins over
 * an index when both exist. The index is validated: shard names must be plain file names inside `directory`,
 * every shard must exist, and every listed tensor must be in the shard the index names.
 */
export async function readCheckpointTensors(
  directory: string,
  options: ReadCheckpointOptions = {},
): Promise<Map<string, TensorEntry>> {
  const weightsName = options.weightsName ?? 'model.safetensors';
  const singlePath = path.join(directory, weightsName);
  if (await isFile(singlePath)) {
    return (await readSafetensors(singlePath, { names: options.names })).tensors;
  }
  const indexPath = path.join(directory, `${weightsName}.index.json`);
  if (!(await isFile(indexPath))) {
    throw new CheckpointError(`readCheckpointTensors: ${directory} holds neither ${weightsName} nor ${weightsName}.index.json`, {
      code: 'CHECKPOINT_NOT_FOUND',
    });
  }
  const shards = await readIndex(indexPath, directory);
  const result = new Map<string, TensorEntry>();
  for (const [shardFile, names] of shards) {
    const shardPath = path.join(directory, shardFile);
    const header = await readSafetensorsHeader(shardPath);
    for (const name of names) {
      if (!header.tensors.has(name)) {
        throw new CheckpointError(`readCheckpointTensors: ${indexPath} places tensor "${name}" in ${shardFile}, which does not hold it`, {
          code: INVALID_INDEX,
        });
      }
    }
    const wanted = new Set(names.filter((name) => options.names === undefined || options.names(name)));
    if (wanted.size === 0) continue;
    const shard = await readSafetensors(shardPath, { names: (name) => wanted.has(name) });
    for (const [name, entry] of shard.tensors) result.set(name, entry);
  }
  return result;
}

/** Parses and validates an index file; returns the tensor names of each shard file. */
async function readIndex(indexPath: string, directory: string): Promise<Map<string, string[]>> {
  const invalid = (message: string): CheckpointError =>
    new CheckpointError(`readCheckpointTensors: ${indexPath}: ${message}`, { code: INVALID_INDEX });
  const text = await fs.readFile(indexPath, 'utf8');
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`readCheckpointTensors: ${indexPath}: not valid JSON (${(cause as Error).message})`, {
      code: INVALID_INDEX,
      cause,
    });
  }
  const duplicate = findDuplicateJsonKey(text);
  if (duplicate !== undefined) throw invalid(`repeats the key ${JSON.stringify(duplicate)}`);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw invalid('"weight_map" must be an object mapping tensor names to shard files');
  }
  const shards = new Map<string, string[]>();
  for (const [name, shardFile] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shardFile !== 'string' || !isPlainFileName(shardFile)) {
      throw invalid(`tensor "${name}" names shard ${JSON.stringify(shardFile)}, which is not a plain file name inside ${directory}`);
    }
    const names = shards.get(shardFile) ?? [];
    names.push(name);
    shards.set(shardFile, names);
  }
  for (const shardFile of shards.keys()) {
    if (!(await isFile(path.join(directory, shardFile)))) {
      throw new CheckpointError(`readCheckpointTensors: ${indexPath} lists shard ${shardFile}, which is missing from ${directory}`, {
        code: 'CHECKPOINT_NOT_FOUND',
      });
    }
  }
  return shards;
}

/** No separators, no `.`/`..`, not absolute on any platform, no NUL: the name stays inside its directory. */
function isPlainFileName(name: string): boolean {
  return (
    name.length > 0 &&
    name !== '.' &&
    name !== '..' &&
    !/[/\\\0]/.test(name) &&
    !path.isAbsolute(name) &&
    !path.win32.isAbsolute(name) &&
    !/^[A-Za-z]:/.test(name)
  );
}

async function isFile(target: string): Promise<boolean> {
  try {
    return (await fs.stat(target)).isFile();
  } catch {
    return false;
  }
}

export interface WriteShardedOptions {
  /** Largest shard in bytes of tensor data (a larger single tensor gets a shard of its own). Default 5e9, HF's "5GB". */
  maxShardBytes?: number;
  /** Metadata stored in every shard. Default `{format: 'pt'}`, which transformers' loader checks for. */
  metadata?: Readonly<Record<string, string>>;
  dtype?: FloatStorageDtype;
  /** Default 'model.safetensors'. */
  weightsName?: string;
}

export interface WriteShardedConfig {
  readonly maxShardBytes: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly dtype: FloatStorageDtype;
  readonly weightsName: string;
}

export function resolveWriteShardedConfig(options: WriteShardedOptions = {}): WriteShardedConfig {
  const problems: string[] = [];
  const maxShardBytes = options.maxShardBytes ?? 5_000_000_000;
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes <= 0) {
    problems.push(`maxShardBytes must be a positive integer, got ${String(maxShardBytes)}`);
  }
  const weightsName = options.weightsName ?? 'model.safetensors';
  if (!isPlainFileName(weightsName) || !weightsName.endsWith('.safetensors')) {
    problems.push(`weightsName must be a plain file name ending in .safetensors, got ${JSON.stringify(weightsName)}`);
  }
  let base: { metadata: Readonly<Record<string, string>>; dtype: FloatStorageDtype } | undefined;
  try {
    base = resolveWriteSafetensorsConfig({ metadata: options.metadata ?? { format: 'pt' }, dtype: options.dtype });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || base === undefined) throw new ConfigError('writeShardedSafetensors', problems);
  return Object.freeze({ maxShardBytes, metadata: base.metadata, dtype: base.dtype, weightsName });
}

/**
 * Writes `tensors` into `directory` as a Hugging Face checkpoint: one `model.safetensors` when the data fits in
 * `maxShardBytes`, else shards `model-0000i-of-0000n.safetensors` filled greedily in the tensors' order (as
 * huggingface_hub's `split_torch_state_dict_into_shards` does) plus `model.safetensors.index.json`. Each file is
 * written atomically, the index last; weights files of an earlier save that the new one does not use are then
 * removed. For an all-or-nothing save of the whole directory, call this inside `replaceDirectoryAtomic`.
 * Returns the names of the files written.
 */
export async function writeShardedSafetensors(
  directory: string,
  tensors: WritableTensors,
  options: WriteShardedOptions = {},
): Promise<string[]> {
  const config = resolveWriteShardedConfig(options);
  const baseConfig = { metadata: config.metadata, dtype: config.dtype };
  // Plan the whole set once: validates every tensor and gives each its stored size.
  const all = planSafetensors(tensors, baseConfig);
  const sizes = new Map(all.tensors.map((entry: PlannedTensor) => [entry.name, entry.byteLength]));
  const ordered: Array<[string, WritableTensor]> =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, WritableTensor>);

  const groups: Array<Array<[string, WritableTensor]>> = [[]];
  let groupBytes = 0;
  for (const item of ordered) {
    const size = sizes.get(item[0]) as number;
    const current = groups[groups.length - 1] as Array<[string, WritableTensor]>;
    if (current.length > 0 && groupBytes + size > config.maxShardBytes) {
      groups.push([item]);
      groupBytes = size;
    } else {
      current.push(item);
      groupBytes += size;
    }
  }

  await fs.mkdir(directory, { recursive: true });
  const stem = config.weightsName.slice(0, -'.safetensors'.length);
  const indexName = `${config.weightsName}.index.json`;
  const written: string[] = [];
  if (groups.length === 1) {
    await writePlannedSafetensors(path.join(directory, config.weightsName), all);
    written.push(config.weightsName);
  } else {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [groupIndex, group] of groups.entries()) {
      const shardName = `${stem}-${pad5(groupIndex + 1)}-of-${pad5(groups.length)}.safetensors`;
      const plan = planSafetensors(new Map(group), baseConfig);
      await writePlannedSafetensors(path.join(directory, shardName), plan);
      for (const entry of plan.tensors) {
        weightMap[entry.name] = shardName;
        totalSize += entry.byteLength;
      }
      written.push(shardName);
    }
    // transformers writes json.dumps(index, indent=2, sort_keys=True) + "\n".
    const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((name) => [name, weightMap[name]]));
    const index = { metadata: { total_size: totalSize }, weight_map: sortedMap };
    await writeFileAtomic(path.join(directory, indexName), `${JSON.stringify(index, null, 2)}\n`);
    written.push(indexName);
  }
  await removeStaleWeights(directory, stem, new Set(written));
  return written;
}

async function removeStaleWeights(directory: string, stem: string, keep: ReadonlySet<string>): Promise<void> {
  const escaped = stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const ours = new RegExp(`^${escaped}(-\\d{5}-of-\\d{5})?\\.safetensors(\\.index\\.json)?$`);
  for (const entry of await fs.readdir(directory)) {
    if (ours.test(entry) && !keep.has(entry)) await fs.rm(path.join(directory, entry), { force: true });
  }
}

function pad5(value: number): string {
  return String(value).padStart(5, '0');
}
