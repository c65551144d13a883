import { open, readFile } from 'node:fs/promises';
import { DataError } from '../errors/errors';
import { DATA_ERROR_CODES } from './data_error_codes';
import { fileError } from './jsonl_reader';

/**
 * Reads a file holding one JSON array of records. Unlike JSON Lines this reads the whole file at once (a JSON
 * array cannot be parsed piece by piece without a streaming parser); prefer JSON Lines for large datasets.
 * A byte order mark is skipped. Invalid UTF-8 is refused (as the JSON Lines reader does) and bad JSON is a
 * DataError, both naming the line and column; a top level that is not an array throws a DataError too.
 */
export async function readJsonArray(path: string): Promise<unknown[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fileError(path, error);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    const offset = firstInvalidUtf8Byte(bytes);
    const { line, column } = lineAndColumn(bytes.subarray(0, offset).toString('utf8'), Number.MAX_SAFE_INTEGER);
    throw new DataError(
      `readJsonArray: not valid UTF-8 (byte ${offset} is 0x${(bytes[offset] ?? 0).toString(16).padStart(2, '0')})`,
      { file: path, line, column },
      { code: DATA_ERROR_CODES.badJson, cause: error },
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim().length === 0) {
    throw new DataError(
      'readJsonArray: the file has no records (it is empty)',
      { file: path },
      {
        code: DATA_ERROR_CODES.empty,
      },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // V8 names the offending character's offset ("at position 19"); "Unexpected end of JSON input" has none.
    const position = /position (\d+)/.exec(reason);
    const { line, column } = lineAndColumn(text, position === null ? text.length : Number(position[1]));
    throw new DataError(
      `readJsonArray: not valid JSON (${reason})`,
      { file: path, line, column },
      {
        code: DATA_ERROR_CODES.badJson,
        cause: error,
      },
    );
  }
  if (!Array.isArray(value)) {
    throw new DataError(
      `readJsonArray: expected a JSON array of records at the top level, got ${
        value === null ? 'null' : typeof value
      }` + ' (a file of one JSON object per line should be named .jsonl)',
      { file: path },
      { code: DATA_ERROR_CODES.notArray },
    );
  }
  return value as unknown[];
}

/** 1-based line and column (in characters) of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let index = 0; index < end; index += 1) {
    if (text.charCodeAt(index) === 0x0a) {
      line += 1;
      lineStart = index + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** Offset of the first byte where `bytes` stops being well-formed UTF-8 (RFC 3629), or `bytes.length`. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index] as number;
    const [length, low, high] =
      lead < 0x80 ? [1, 0, 0] : lead >= 0xc2 && lead <= 0xdf ? [2, 0x80, 0xbf] : lead === 0xe0 ? [3, 0xa0, 0xbf] : lead === 0xed ? [3, 0x80, 0x9f]
        : lead >= 0xe1 && lead <= 0xef ? [3, 0x80, 0xbf] : lead === 0xf0 ? [4, 0x90, 0xbf] : lead >= 0xf1 && lead <= 0xf3 ? [4, 0x80, 0xbf] : lead === 0xf4 ? [4, 0x80, 0x8f] : [0, 0, 0];
    if (length === 0) return index;
    for (let next = 1; next < length; next += 1) {
      const byte = bytes[index + next];
      const [from, to] = next === 1 ? [low, high] : [0x80, 0xbf];
      if (byte === undefined || byte < from || byte > to) return index;
    }
    index += length;
  }
  return bytes.length;
}

const SNIFF_BYTES = 64 * 1024;

/**
 * The first character of a file that is not whitespace or a byte order mark ('' when the first 64 KiB hold
 * none): '[' for a JSON array, '{' for JSON Lines. Hugging Face `datasets` writes JSON Lines into `.json` files,
 * so `loadDataset` looks before it picks a reader for a `.json` file.
 */
export async function firstSignificantCharacter(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fileError(path, error);
  }
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    const text = buffer
      .subarray(0, bytesRead)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
    const match = /\S/.exec(text);
    return match === null ? '' : match[0];
  } catch (error) {
    throw fileError(path, error);
  } finally {
    await handle.close();
  }
}
