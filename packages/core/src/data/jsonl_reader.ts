import { createReadStream } from 'node:fs';
import { ConfigError, DataError } from '../errors/errors';
import { DATA_ERROR_CODES } from './data_error_codes';

export interface ReadJsonlOptions {
  /** A line longer than this many bytes (without its newline) is a DataError; default 64 MiB. */
  readonly maxLineBytes?: number;
}

export interface ReadJsonlConfig {
  readonly maxLineBytes: number;
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export function resolveReadJsonlConfig(options: ReadJsonlOptions = {}): ReadJsonlConfig {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const problems: string[] = [];
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
    problems.push(`maxLineBytes must be a positive integer, got ${String(maxLineBytes)}`);
  }
  if (problems.length > 0) throw new ConfigError('readJsonl', problems);
  return Object.freeze({ maxLineBytes });
}

/** One parsed line of a JSON Lines file, with its 1-based line number. */
export interface JsonlRow {
  readonly line: number;
  readonly value: unknown;
}

/**
 * One non-blank line of a file: its text, or the DataError that stops it being read (too long, not UTF-8).
 * Used by `loadDataset` so that `skipInvalid` can go on past such a line.
 */
export type JsonlLine =
  | { readonly kind: 'text'; readonly line: number; readonly text: string }
  | { readonly kind: 'problem'; readonly line: number; readonly problem: DataError };

const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Streams the non-blank lines of a text file, chunk by chunk; the whole file is never in memory, only the current
 * line (at most `maxLineBytes`; the bytes of a longer line are dropped as they arrive). Handles a UTF-8 byte order
 * mark on the first line and CRLF line ends; lines of only whitespace are skipped but still counted.
 */
export async function* readJsonlLines(path: string, options: ReadJsonlOptions = {}): AsyncGenerator<JsonlLine> {
  const { maxLineBytes } = resolveReadJsonlConfig(options);
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let parts: Buffer[] = [];
  let lineBytes = 0;
  let lineNumber = 1;

  const finishLine = (): JsonlLine | undefined => {
    const line = lineNumber;
    const bytes = lineBytes;
    const pieces = parts;
    parts = [];
    lineBytes = 0;
    lineNumber += 1;
    if (bytes > maxLineBytes) {
      const problem = new DataError(
        `readJsonl: the line has ${bytes} bytes, more than maxLineBytes = ${maxLineBytes}`,
        { file: path, line },
        { code: DATA_ERROR_CODES.lineTooLong },
      );
      return { kind: 'problem', line, problem };
    }
    let text: string;
    try {
      text = decoder.decode(pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, bytes));
    } catch (error) {
      const problem = new DataError(
        'readJsonl: the line is not valid UTF-8',
        { file: path, line },
        {
          code: DATA_ERROR_CODES.badJson,
          cause: error,
        },
      );
      return { kind: 'problem', line, problem };
    }
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim().length === 0) return undefined;
    return { kind: 'text', line, text };
  };

  let stream: AsyncIterable<Buffer>;
  try {
    stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  } catch (error) {
    throw fileError(path, error);
  }

  async function* splitLines(chunks: AsyncIterator<Buffer>): AsyncGenerator<JsonlLine> {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw fileError(path, error);
      }
      if (next.done === true) break;
      const chunk = next.value;
      let start = 0;
      for (;;) {
        const newline = chunk.indexOf(NEWLINE, start);
        const end = newline === -1 ? chunk.length : newline;
        if (end > start) {
          if (lineBytes + (end - start) <= maxLineBytes) parts.push(chunk.subarray(start, end));
          else parts = [];
          lineBytes += end - start;
        }
        if (newline === -1) break;
        const line = finishLine();
        if (line !== undefined) yield line;
        start = newline + 1;
      }
    }
    if (lineBytes > 0) {
      const line = finishLine();
      if (line !== undefined) yield line;
    }
  }

  const chunks = stream[Symbol.asyncIterator]();
  try {
    yield* splitLines(chunks);
  } finally {
    // Closes the file when the consumer stops early.
    await chunks.return?.();
  }
}

/**
 * Streams a JSON Lines file as parsed values with their 1-based line numbers. Blank lines are skipped; the first
 * bad line (not JSON, not UTF-8, longer than `maxLineBytes`) throws a DataError naming the file and line.
 */
export async function* readJsonl(path: string, options: ReadJsonlOptions = {}): AsyncGenerator<JsonlRow> {
  for await (const line of readJsonlLines(path, options)) {
    switch (line.kind) {
      case 'text':
        yield { line: line.line, value: parseJsonLine(line.text, path, line.line) };
        break;
      case 'problem':
        throw line.problem;
      default: {
        const unreachable: never = line;
        throw new Error(`unreachable ${String(unreachable)}`);
      }
    }
  }
}

/** JSON.parse with a DataError naming the file and line. */
export function parseJsonLine(text: string, file: string, line: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(`not valid JSON (${reason})`, { file, line }, { code: DATA_ERROR_CODES.badJson, cause: error });
  }
}

export function fileError(path: string, error: unknown): DataError {
  const reason = error instanceof Error ? error.message : String(error);
  return new DataError(
    `cannot read the file (${reason})`,
    { file: path },
    { code: DATA_ERROR_CODES.file, cause: error },
  );
}
