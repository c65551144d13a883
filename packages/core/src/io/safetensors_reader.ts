/**
 * Reads safetensors files with positional reads: the header is read and fully validated first, then only the
 * selected tensors' byte ranges are read, each into a buffer of its (validated) size.
 */
import { promises as fs } from 'fs';
import { endianness } from 'os';
import { CheckpointError } from '../errors/errors';
import { bf16ToFloat32, f16ToFloat32 } from './float_conversion';
import {
  INVALID_SAFETENSORS,
  parseSafetensorsHeader,
  validateHeaderLength,
  type HeaderValidationOptions,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from './safetensors_format';

export interface TensorEntry {
  /** The dtype stored in the file (the data may have been converted, see `readSafetensors`). */
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array;
}

export interface SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: Map<string, TensorEntry>;
}

export interface ReadSafetensorsOptions extends HeaderValidationOptions {
  /** Which tensors to read (all when absent). Unselected tensors are validated but never read. */
  readonly names?: (name: string) => boolean;
}

/** Reads and validates the 8-byte length and the JSON header, nothing else. */
export async function readSafetensorsHeader(
  path: string,
  options: HeaderValidationOptions = {},
): Promise<SafetensorsHeader> {
  const handle = await openForReading(path);
  try {
    return await readHeader(handle, path, options);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a safetensors file. Float dtypes (F32, F16, BF16, F64) come back as Float32Array; I8/I16/U16/I32 and
 * I64/U32/U64 (when every value fits in int32) as Int32Array; U8 and BOOL as Uint8Array. F8 dtypes are refused.
 */
export async function readSafetensors(path: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsFile> {
  const handle = await openForReading(path);
  try {
    const header = await readHeader(handle, path, options);
    const dataStart = 8 + header.headerByteLength;
    const tensors = new Map<string, TensorEntry>();
    for (const [name, info] of header.tensors) {
      if (options.names !== undefined && !options.names(name)) continue;
      const [begin, end] = info.dataOffsets;
      const bytes = await readExactly(handle, path, dataStart + begin, end - begin);
      tensors.set(name, Object.freeze({ dtype: info.dtype, shape: info.shape, data: decodeTensor(path, name, info, bytes) }));
    }
    return { metadata: header.metadata, tensors };
  } finally {
    await handle.close();
  }
}

async function openForReading(path: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'CHECKPOINT_NOT_FOUND' : 'CHECKPOINT';
    throw new CheckpointError(`safetensors file ${path}: cannot open (${(cause as Error).message})`, { code, cause });
  }
}

async function readHeader(
  handle: fs.FileHandle,
  path: string,
  options: HeaderValidationOptions,
): Promise<SafetensorsHeader> {
  const { size } = await handle.stat();
  if (size < 8) {
    throw new CheckpointError(
      `safetensors file ${path}: ${size} bytes, too short for the 8-byte header length`,
      { code: INVALID_SAFETENSORS },
    );
  }
  const lengthBytes = await readExactly(handle, path, 0, 8);
  const headerLength = validateHeaderLength(path, Buffer.from(lengthBytes.buffer).readBigUInt64LE(0), size);
  const headerBytes = await readExactly(handle, path, 8, headerLength);
  return parseSafetensorsHeader(path, headerBytes, size - 8 - headerLength, options);
}

/** Largest single positional read; bigger ranges are read in pieces. */
const READ_CHUNK_BYTES = 1 << 30;

async function readExactly(handle: fs.FileHandle, path: string, position: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(bytes, filled, Math.min(READ_CHUNK_BYTES, length - filled), position + filled);
    if (bytesRead === 0) {
      throw new CheckpointError(
        `safetensors file ${path}: ended at byte ${position + filled} while reading bytes [${position}, ${position + length}) (was it truncated while being read?)`,
        { code: INVALID_SAFETENSORS },
      );
    }
    filled += bytesRead;
  }
  return bytes;
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** `bytes` starts at offset 0 of its own buffer, so every typed view below is aligned. */
function decodeTensor(
  path: string,
  name: string,
  info: SafetensorsTensorInfo,
  bytes: Uint8Array,
): Float32Array | Int32Array | Uint8Array {
  if (!LITTLE_ENDIAN_HOST) {
    throw new CheckpointError(`readSafetensors: ${path}: big-endian hosts are not supported`, { code: 'SAFETENSORS_UNSUPPORTED' });
  }
  const buffer = bytes.buffer;
  const dtype = info.dtype;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'F16':
      return f16ToFloat32(new Uint16Array(buffer));
    case 'BF16':
      return bf16ToFloat32(new Uint16Array(buffer));
    case 'F64':
      return Float32Array.from(new Float64Array(buffer));
    case 'I32':
      return new Int32Array(buffer);
    case 'I8':
      return Int32Array.from(new Int8Array(buffer));
    case 'I16':
      return Int32Array.from(new Int16Array(buffer));
    case 'U16':
      return Int32Array.from(new Uint16Array(buffer));
    case 'U32':
      return narrowToInt32(path, name, dtype, new Uint32Array(buffer), (words, index) => (words[index] as number) >= 0);
    case 'I64':
      // Fits when the high word is the sign extension of the low word.
      return narrowToInt64Words(path, name, dtype, buffer, (low, high) => high === low >> 31);
    case 'U64':
      return narrowToInt64Words(path, name, dtype, buffer, (low, high) => high === 0 && low >= 0);
    case 'U8':
    case 'BOOL':
      return bytes;
    case 'F8_E4M3':
    case 'F8_E5M2':
      throw new CheckpointError(`readSafetensors: ${path}: tensor "${name}" has dtype ${dtype}, which is not supported`, {
        code: 'SAFETENSORS_UNSUPPORTED',
      });
    default: {
      const unreachable: never = dtype;
      throw new Error(`unhandled dtype ${String(unreachable)}`);
    }
  }
}

function narrowToInt32(
  path: string,
  name: string,
  dtype: SafetensorsDtype,
  words: Uint32Array,
  fits: (signedWords: Int32Array, index: number) => boolean,
): Int32Array {
  const signed = new Int32Array(words.buffer);
  for (let index = 0; index < signed.length; index++) {
    if (!fits(signed, index)) throw outOfInt32Range(path, name, dtype, index, String(words[index]));
  }
  return signed;
}

function narrowToInt64Words(
  path: string,
  name: string,
  dtype: SafetensorsDtype,
  buffer: ArrayBufferLike,
  fits: (low: number, high: number) => boolean,
): Int32Array {
  const words = new Int32Array(buffer); // [low0, high0, low1, high1, ...]
  const result = new Int32Array(words.length / 2);
  for (let index = 0; index < result.length; index++) {
    const low = words[2 * index] as number;
    const high = words[2 * index + 1] as number;
    if (!fits(low, high)) {
      const value = dtype === 'I64' ? new BigInt64Array(buffer)[index] : new BigUint64Array(buffer)[index];
      throw outOfInt32Range(path, name, dtype, index, String(value));
    }
    result[index] = low;
  }
  return result;
}

function outOfInt32Range(path: string, name: string, dtype: SafetensorsDtype, index: number, value: string): CheckpointError {
  return new CheckpointError(
    `readSafetensors: ${path}: tensor "${name}" (${dtype}) holds ${value} at flat index ${index}, outside the int32 range`,
    { code: 'SAFETENSORS_UNSUPPORTED' },
  );
}
