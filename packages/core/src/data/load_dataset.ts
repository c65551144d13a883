import { extname } from 'node:path';
import { ConfigError, DataError } from '../errors/errors';
import { DATA_ERROR_CODES } from './data_error_codes';
import { firstSignificantCharacter, readJsonArray } from './json_array_reader';
import { DEFAULT_MAX_LINE_BYTES, parseJsonLine, readJsonlLines } from './jsonl_reader';
import { parseRecord } from './parse_record';
import { type DatasetFormat, type DatasetRecord, type RecordStyle, DATASET_FORMATS, isDatasetFormat } from './records';

export type DatasetFileType = 'jsonl' | 'json';

export interface LoadDatasetOptions {
  /** The record format; detected from the first valid record when not given. */
  readonly format?: DatasetFormat;
  /** Count and collect bad records in `problems` instead of throwing at the first; default false. */
  readonly skipInvalid?: boolean;
  /**
   * How to read the file; by default from the extension: `.jsonl`/`.ndjson` are JSON Lines, `.json` is a JSON
   * array, or JSON Lines when its first character is not '[' (as Hugging Face `datasets` writes them).
   */
  readonly fileType?: DatasetFileType;
  /** Longest JSON Lines line in bytes; default 64 MiB. */
  readonly maxLineBytes?: number;
}

export interface LoadDatasetConfig {
  readonly format: DatasetFormat | null;
  readonly skipInvalid: boolean;
  readonly fileType: DatasetFileType | null;
  readonly maxLineBytes: number;
}

export interface LoadedDataset {
  /** The valid records, normalised, in file order. */
  readonly records: readonly DatasetRecord[];
  /** The line of each record (1-based; the 0-based element index for a JSON array, see `fileType`). */
  readonly lines: readonly number[];
  /** How the file was read: JSON Lines (`lines` are line numbers) or a JSON array (`lines` are element indices). */
  readonly fileType: DatasetFileType;
  readonly format: DatasetFormat;
  readonly style: RecordStyle;
  /** How many records were skipped (always `problems.length`). */
  readonly skipped: number;
  /** Why each skipped record was skipped; empty unless `skipInvalid`. */
  readonly problems: readonly DataError[];
}

export function resolveLoadDatasetConfig(options: LoadDatasetOptions = {}): LoadDatasetConfig {
  const problems: string[] = [];
  const format = options.format ?? null;
  if (format !== null && !isDatasetFormat(format)) {
    problems.push(`format must be one of ${DATASET_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  }
  const fileType = options.fileType ?? null;
  if (fileType !== null && fileType !== 'jsonl' && fileType !== 'json') {
    problems.push(`fileType must be "jsonl" or "json", got ${JSON.stringify(fileType)}`);
  }
  const skipInvalid = options.skipInvalid ?? false;
  if (typeof skipInvalid !== 'boolean') problems.push(`skipInvalid must be a boolean, got ${String(skipInvalid)}`);
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
    problems.push(`maxLineBytes must be a positive integer, got ${String(maxLineBytes)}`);
  }
  if (problems.length > 0) throw new ConfigError('loadDataset', problems);
  return Object.freeze({ format, skipInvalid, fileType, maxLineBytes });
}

/**
 * Loads and validates a whole dataset file into normalised records. All records must share one format and style
 * (a mixed dataset is a DataError naming the line); without `skipInvalid` the first bad record throws, with it bad
 * records are skipped and collected in `problems`. A file with no valid records is a DataError.
 */
export async function loadDataset(path: string, options: LoadDatasetOptions = {}): Promise<LoadedDataset> {
  const config = resolveLoadDatasetConfig(options);
  const fileType = config.fileType ?? (await fileTypeOf(path));
  const records: DatasetRecord[] = [];
  const lines: number[] = [];
  const problems: DataError[] = [];
  // The format and style of the first valid record, which every later record must share.
  const dataset: { shape: { format: DatasetFormat; style: RecordStyle; where: string } | null } = { shape: null };

  const skipOrThrow = (error: unknown): void => {
    if (config.skipInvalid && error instanceof DataError) problems.push(error);
    else throw error;
  };
  // `position` is a 1-based line of a JSON Lines file, or a 0-based element index of a JSON array.
  const accept = (value: unknown, position: { line: number } | { element: number }): void => {
    try {
      const record = parseRecord(value, { format: config.format ?? undefined, file: path, ...position });
      const where = 'line' in position ? `line ${position.line}` : `element ${position.element}`;
      const shape = dataset.shape;
      if (shape === null) {
        dataset.shape = { format: record.kind, style: record.style, where };
      } else if (record.kind !== shape.format || record.style !== shape.style) {
        throw new DataError(
          `loadDataset: the record is ${record.kind} (${record.style}) but the dataset is ${shape.format} ` +
            `(${shape.style}), as set by ${shape.where}; a dataset must hold one format`,
          { file: path, ...position },
          { code: DATA_ERROR_CODES.mixedFormat },
        );
      }
      records.push(record);
      lines.push('line' in position ? position.line : position.element);
    } catch (error) {
      skipOrThrow(error);
    }
  };

  switch (fileType) {
    case 'jsonl':
      for await (const line of readJsonlLines(path, { maxLineBytes: config.maxLineBytes })) {
        switch (line.kind) {
          case 'text': {
            let value: unknown;
            try {
              value = parseJsonLine(line.text, path, line.line);
            } catch (error) {
              skipOrThrow(error);
              break;
            }
            accept(value, { line: line.line });
            break;
          }
          case 'problem':
            skipOrThrow(line.problem);
            break;
          default: {
            const unreachable: never = line;
            throw new Error(`unreachable ${String(unreachable)}`);
          }
        }
      }
      break;
    case 'json': {
      const values = await readJsonArray(path);
      values.forEach((value, index) => accept(value, { element: index }));
      break;
    }
    default: {
      const unreachable: never = fileType;
      throw new Error(`unreachable ${String(unreachable)}`);
    }
  }

  const found = dataset.shape;
  if (found === null) {
    const first = problems[0];
    throw new DataError(
      first === undefined
        ? 'loadDataset: the file has no records'
        : `loadDataset: the file has no valid records (${problems.length} skipped; the first: ${first.message})`,
      { file: path },
      { code: DATA_ERROR_CODES.empty, cause: first },
    );
  }
  return Object.freeze({
    records: Object.freeze(records),
    lines: Object.freeze(lines),
    fileType,
    format: found.format,
    style: found.style,
    skipped: problems.length,
    problems: Object.freeze(problems),
  });
}

async function fileTypeOf(path: string): Promise<DatasetFileType> {
  const extension = extname(path).toLowerCase();
  switch (extension) {
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    case '.json':
      return (await firstSignificantCharacter(path)) === '{' ? 'jsonl' : 'json';
    default:
      throw new DataError(
        `loadDataset: cannot tell the file type from the extension ${JSON.stringify(extension)}; ` +
          'use .jsonl or .json, or pass fileType',
        { file: path },
        { code: DATA_ERROR_CODES.file },
      );
  }
}
