/**
 * The safetensors format (https://huggingface.co/docs/safetensors), shared by the reader and the writer:
 *
 *   [8 bytes] N, little-endian u64: length of the header
 *   [N bytes] UTF-8 JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}
 *   [rest]    the data section; offsets are relative to its start
 *
 * Everything a hostile file could lie about is checked here, before anything is allocated for tensor data.
 */
import { CheckpointError } from '../errors/errors';

/** Every dtype the safetensors specification names, with its size in bytes. */
export const SAFETENSORS_DTYPE_BYTES = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
});

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

/**
 * The order of the Rust `safetensors::Dtype` enum (increasing alignment). The Rust writer, which
 * `safetensors.torch.save_file` calls, lays tensors out by this rank, largest first, then by name.
 */
export const SAFETENSORS_DTYPE_RANK: Readonly<Record<SafetensorsDtype, number>> = Object.freeze(
  Object.fromEntries(Object.keys(SAFETENSORS_DTYPE_BYTES).map((dtype, rank) => [dtype, rank])) as Record<
    SafetensorsDtype,
    number
  >,
);

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, value);
}

/** The Rust reader's limit on the header size (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export const METADATA_KEY = '__metadata__';

/** Error code of every malformed or hostile file. */
export const INVALID_SAFETENSORS = 'SAFETENSORS_INVALID';

export interface SafetensorsTensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>;
  /** In data-section order (by begin offset). */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** N, the JSON header's length in bytes. */
  readonly headerByteLength: number;
  /** The data section's length: file size − 8 − N. */
  readonly dataByteLength: number;
}

export interface HeaderValidationOptions {
  /**
   * When true (the default, as the Rust reader requires), every byte of the data section must belong to exactly
   * one tensor: no gaps and no trailing bytes.
   */
  readonly requireFullCoverage?: boolean;
}

function invalid(file: string, message: string): CheckpointError {
  return new CheckpointError(`safetensors file ${file}: ${message}`, { code: INVALID_SAFETENSORS });
}

/** Checks the 8-byte header length against the file size; returns N as a number. */
export function validateHeaderLength(file: string, headerLength: bigint, fileSize: number): number {
  if (headerLength < 2n) {
    throw invalid(file, `header length ${headerLength} is below 2, the size of the smallest JSON object "{}"`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw invalid(file, `header length ${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (headerLength > BigInt(fileSize - 8)) {
    throw invalid(file, `header length ${headerLength} runs past the end of the file (${fileSize} bytes, ${fileSize - 8} after the length field)`);
  }
  return Number(headerLength);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses and validates the JSON header. `dataByteLength` is the size of the data section that follows it. */
export function parseSafetensorsHeader(
  file: string,
  headerBytes: Uint8Array,
  dataByteLength: number,
  options: HeaderValidationOptions = {},
): SafetensorsHeader {
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch (cause) {
    throw new CheckpointError(`safetensors file ${file}: header is not valid UTF-8`, { code: INVALID_SAFETENSORS, cause });
  }
  if (!text.startsWith('{')) {
    throw invalid(file, `header must start with "{", found ${JSON.stringify(text.slice(0, 16))}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`safetensors file ${file}: header is not valid JSON (${(cause as Error).message})`, {
      code: INVALID_SAFETENSORS,
      cause,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(file, 'header JSON is not an object');
  }
  const duplicate = findDuplicateJsonKey(text);
  if (duplicate !== undefined) {
    throw invalid(file, `header JSON repeats the key ${JSON.stringify(duplicate)}`);
  }

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: Array<{ name: string; info: SafetensorsTensorInfo }> = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw invalid(file, `"${METADATA_KEY}" must be an object of strings`);
      }
      for (const [key, metadataValue] of Object.entries(value as Record<string, unknown>)) {
        if (typeof metadataValue !== 'string') {
          throw invalid(file, `"${METADATA_KEY}" value for key ${JSON.stringify(key)} is ${describe(metadataValue)}, not a string`);
        }
        Object.defineProperty(metadata, key, { value: metadataValue, enumerable: true });
      }
      continue;
    }
    entries.push({ name, info: parseTensorInfo(file, name, value, dataByteLength) });
  }

  checkLayout(file, entries, dataByteLength, options.requireFullCoverage ?? true);
  return Object.freeze({
    metadata: Object.freeze(metadata),
    tensors: new Map(entries.map(({ name, info }) => [name, info])),
    headerByteLength: headerBytes.length,
    dataByteLength,
  });
}

function parseTensorInfo(file: string, name: string, value: unknown, dataByteLength: number): SafetensorsTensorInfo {
  const where = `tensor ${JSON.stringify(name)}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(file, `${where}: entry is ${describe(value)}, not an object`);
  }
  const { dtype, shape, data_offsets: dataOffsets } = value as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) {
    throw invalid(file, `${where}: unknown dtype ${describe(dtype)} (known: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
    throw invalid(file, `${where}: shape ${describe(shape)} is not an array of non-negative integers`);
  }
  if (
    !Array.isArray(dataOffsets) ||
    dataOffsets.length !== 2 ||
    !dataOffsets.every(isNonNegativeSafeInteger)
  ) {
    throw invalid(file, `${where}: data_offsets ${describe(dataOffsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = dataOffsets as [number, number];
  if (begin > end) {
    throw invalid(file, `${where}: data_offsets [${begin}, ${end}] begin after they end`);
  }
  if (end > dataByteLength) {
    throw invalid(file, `${where}: data_offsets [${begin}, ${end}] run past the data section's ${dataByteLength} bytes`);
  }
  // BigInt: a shape like [2^40, 2^40] overflows a double's exact range.
  const elementBytes = BigInt(SAFETENSORS_DTYPE_BYTES[dtype]);
  const byteLength = (shape as number[]).reduce((product, dimension) => product * BigInt(dimension), elementBytes);
  if (byteLength !== BigInt(end - begin)) {
    throw invalid(
      file,
      `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${byteLength} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return Object.freeze({
    dtype,
    shape: Object.freeze([...(shape as number[])]),
    dataOffsets: Object.freeze([begin, end]) as readonly [number, number],
  });
}

/** Ranges must not overlap and, when `requireFullCoverage`, must tile the data section exactly. */
function checkLayout(
  file: string,
  entries: Array<{ name: string; info: SafetensorsTensorInfo }>,
  dataByteLength: number,
  requireFullCoverage: boolean,
): void {
  entries.sort(
    (left, right) =>
      left.info.dataOffsets[0] - right.info.dataOffsets[0] || left.info.dataOffsets[1] - right.info.dataOffsets[1],
  );
  let covered = 0;
  let previous: { name: string; info: SafetensorsTensorInfo } | undefined;
  for (const entry of entries) {
    const [begin, end] = entry.info.dataOffsets;
    if (begin < covered && previous !== undefined) {
      throw invalid(
        file,
        `tensor ${JSON.stringify(entry.name)}: data_offsets [${begin}, ${end}] overlap tensor ${JSON.stringify(previous.name)} at [${previous.info.dataOffsets[0]}, ${previous.info.dataOffsets[1]}]`,
      );
    }
    if (requireFullCoverage && begin > covered) {
      throw invalid(file, `bytes [${covered}, ${begin}) of the data section belong to no tensor (gap before tensor ${JSON.stringify(entry.name)})`);
    }
    covered = end;
    previous = entry;
  }
  if (requireFullCoverage && covered !== dataByteLength) {
    throw invalid(file, `bytes [${covered}, ${dataByteLength}) at the end of the data section belong to no tensor`);
  }
}

function isNonNegativeSafeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch {
    // JSON.stringify recurses: a value nested 100,000 deep overflows the stack.
    return Array.isArray(value) ? 'an array nested too deeply to show' : 'an object nested too deeply to show';
  }
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/**
 * The first key that appears twice in one object of `text` (already known to be valid JSON), or undefined.
 * JSON.parse silently keeps the last duplicate, which would let two readers of one file see different tensors.
 */
export function findDuplicateJsonKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: Array<Set<string> | null> = [];
  let index = 0;
  while (index < text.length) {
    const character = text[index];
    if (character === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const literal = text.slice(index, end + 1);
      index = end + 1;
      while (index < text.length && /\s/.test(text[index] as string)) index++;
      const keys = stack[stack.length - 1];
      if (text[index] === ':' && keys) {
        const key = JSON.parse(literal) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      continue;
    }
    if (character === '{') stack.push(new Set());
    else if (character === '[') stack.push(null);
    else if (character === '}' || character === ']') stack.pop();
    index++;
  }
  return undefined;
}
