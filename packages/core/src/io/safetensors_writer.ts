/**
 * Writes safetensors files laid out as the Rust writer behind `safetensors.torch.save_file` lays them out, so
 * that write → read → write is byte-identical and files match PyTorch's for the same tensors:
 * tensors ordered by dtype alignment (largest first) then name, a compact JSON header with `__metadata__`
 * first, padded with spaces to a multiple of 8 bytes.
 */
import { promises as fs } from 'fs';
import { endianness } from 'os';
import { CheckpointError, ConfigError, ShapeError } from '../errors/errors';
import { writeFileAtomicWith } from './atomic_write';
import { float32ToBf16 } from './float_conversion';
import { METADATA_KEY, SAFETENSORS_DTYPE_BYTES, SAFETENSORS_DTYPE_RANK } from './safetensors_format';

export interface WritableTensor {
  readonly data: Float32Array | Int32Array;
  readonly shape: readonly number[];
}

export type WritableTensors = ReadonlyMap<string, WritableTensor> | Readonly<Record<string, WritableTensor>>;

/** The dtype float tensors are stored as; Int32Array tensors are always stored as I32. */
export type FloatStorageDtype = 'F32' | 'BF16';

export interface WriteSafetensorsOptions {
  /** String key/value pairs stored under `__metadata__` (omitted when empty). */
  metadata?: Readonly<Record<string, string>>;
  /** Default 'F32'. BF16 rounds to nearest even, as `tensor.to(torch.bfloat16)` does. */
  dtype?: FloatStorageDtype;
}

export interface WriteSafetensorsConfig {
  readonly metadata: Readonly<Record<string, string>>;
  readonly dtype: FloatStorageDtype;
}

export function resolveWriteSafetensorsConfig(options: WriteSafetensorsOptions = {}): WriteSafetensorsConfig {
  const problems: string[] = [];
  const dtype = options.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'BF16') problems.push(`dtype must be 'F32' or 'BF16', got ${JSON.stringify(dtype)}`);
  const metadata: Record<string, string> = {};
  if (options.metadata !== undefined) {
    if (typeof options.metadata !== 'object' || options.metadata === null || Array.isArray(options.metadata)) {
      problems.push('metadata must be an object of strings');
    } else {
      for (const [key, value] of Object.entries(options.metadata)) {
        if (typeof value !== 'string') problems.push(`metadata.${key} must be a string, got ${typeof value}`);
        else Object.defineProperty(metadata, key, { value, enumerable: true });
      }
    }
  }
  if (problems.length > 0) throw new ConfigError('writeSafetensors', problems);
  return Object.freeze({ metadata: Object.freeze(metadata), dtype });
}

type StoredDtype = 'F32' | 'BF16' | 'I32';

/** One tensor's place in a planned file. */
export interface PlannedTensor {
  readonly name: string;
  readonly dtype: StoredDtype;
  readonly tensor: WritableTensor;
  readonly byteLength: number;
}

export interface SafetensorsPlan {
  /** The 8-byte length followed by the padded JSON header. */
  readonly prefix: Uint8Array;
  /** In file order. */
  readonly tensors: readonly PlannedTensor[];
  readonly totalBytes: number;
}

/** Validates the tensors and lays out the file: order, offsets and the header bytes. */
export function planSafetensors(tensors: WritableTensors, config: WriteSafetensorsConfig): SafetensorsPlan {
  const planned = entriesOf(tensors).map(([name, tensor]) => planTensor(name, tensor, config.dtype));
  const utf8Names = new Map(planned.map((entry) => [entry.name, Buffer.from(entry.name, 'utf8')]));
  planned.sort(
    (left, right) =>
      SAFETENSORS_DTYPE_RANK[right.dtype] - SAFETENSORS_DTYPE_RANK[left.dtype] ||
      Buffer.compare(utf8Names.get(left.name) as Buffer, utf8Names.get(right.name) as Buffer),
  );

  const headerParts: string[] = [];
  const metadataKeys = Object.keys(config.metadata).sort();
  if (metadataKeys.length > 0) {
    const pairs = metadataKeys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(config.metadata[key])}`);
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:{${pairs.join(',')}}`);
  }
  let offset = 0;
  for (const entry of planned) {
    const info = `{"dtype":"${entry.dtype}","shape":[${entry.tensor.shape.join(',')}],"data_offsets":[${offset},${offset + entry.byteLength}]}`;
    headerParts.push(`${JSON.stringify(entry.name)}:${info}`);
    offset += entry.byteLength;
  }
  const json = Buffer.from(`{${headerParts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const prefix = Buffer.alloc(8 + padded, 0x20); // spaces
  prefix.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(prefix, 8);
  return { prefix, tensors: planned, totalBytes: prefix.length + offset };
}

function entriesOf(tensors: WritableTensors): Array<[string, WritableTensor]> {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, WritableTensor>);
}

function planTensor(name: string, tensor: WritableTensor, floatDtype: FloatStorageDtype): PlannedTensor {
  if (name === METADATA_KEY) {
    throw new ConfigError('writeSafetensors', [`a tensor may not be named "${METADATA_KEY}"`]);
  }
  const { data, shape } = tensor;
  let dtype: StoredDtype;
  if (data instanceof Float32Array) dtype = floatDtype;
  else if (data instanceof Int32Array) dtype = 'I32';
  else throw new ConfigError('writeSafetensors', [`tensor "${name}": data must be a Float32Array or Int32Array`]);
  if (!Array.isArray(shape) || !shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)) {
    throw new ShapeError(`writeSafetensors: tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  const size = shape.reduce((product, dimension) => product * dimension, 1);
  if (size !== data.length) {
    throw new ShapeError(`writeSafetensors: tensor "${name}": shape [${shape.join(', ')}] has ${size} elements but data has ${data.length}`);
  }
  return { name, dtype, tensor, byteLength: size * SAFETENSORS_DTYPE_BYTES[dtype] };
}

/** Writes one safetensors file atomically (temporary sibling, fsync, rename). */
export async function writeSafetensors(
  path: string,
  tensors: WritableTensors,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  const plan = planSafetensors(tensors, resolveWriteSafetensorsConfig(options));
  await writePlannedSafetensors(path, plan);
}

export async function writePlannedSafetensors(path: string, plan: SafetensorsPlan): Promise<void> {
  if (endianness() !== 'LE') {
    throw new CheckpointError(`writeSafetensors: ${path}: big-endian hosts are not supported`, { code: 'SAFETENSORS_UNSUPPORTED' });
  }
  await writeFileAtomicWith(path, async (handle) => {
    await writeAll(handle, plan.prefix);
    for (const entry of plan.tensors) await writeTensor(handle, entry);
  });
}

/** BF16 tensors are converted in pieces of this many values through one reused buffer. */
const CONVERSION_CHUNK = 1 << 22;

async function writeTensor(handle: fs.FileHandle, entry: PlannedTensor): Promise<void> {
  const data = entry.tensor.data;
  switch (entry.dtype) {
    case 'F32':
    case 'I32':
      await writeAll(handle, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return;
    case 'BF16': {
      const values = data as Float32Array;
      const converted = new Uint16Array(Math.min(CONVERSION_CHUNK, values.length));
      for (let start = 0; start < values.length; start += CONVERSION_CHUNK) {
        const piece = values.subarray(start, Math.min(start + CONVERSION_CHUNK, values.length));
        float32ToBf16(piece, converted);
        await writeAll(handle, new Uint8Array(converted.buffer, 0, piece.length * 2));
      }
      return;
    }
    default: {
      const unreachable: never = entry.dtype;
      throw new Error(`unhandled dtype ${String(unreachable)}`);
    }
  }
}

async function writeAll(handle: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const result = await handle.write(bytes, written, Math.min(bytes.length - written, 1 << 30));
    written += result.bytesWritten;
  }
}
