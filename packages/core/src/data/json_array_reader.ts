import { open, readFile } from 'node:fs/promises';
import { DataError } from '../errors/errors';
import { DATA_ERROR_CODES } from './data_error_codes';
import { fileError } from './jsonl_reader';

/**
 * Reads a file holding one JSON array of records. Unlike JSON Lines this reads the whole file at once (a JSON
 * array cannot be parsed piece by piece without a streaming parser); prefer JSON Lines for large datasets.
 * A byte order mark is skipped. Bad JSON throws a DataError with the 1-based line of the error where the JSON
 * parser reports a position; a top level that is not an array throws a DataError too.
 */
export async function readJsonArray(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw fileError(path, error);
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
    const position = /position (\d+)/.exec(reason);
    const line = position === null ? undefined : lineOfOffset(text, Number(position[1]));
    throw new DataError(
      `readJsonArray: not valid JSON (${reason})`,
      { file: path, line },
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

/** 1-based line of a character offset. */
function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let index = 0; index < end; index += 1) if (text.charCodeAt(index) === 0x0a) line += 1;
  return line;
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
