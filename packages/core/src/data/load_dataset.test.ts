import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DataError } from '../errors/errors';
import { DATA_ERROR_CODES } from './data_error_codes';
import { readJsonArray } from './json_array_reader';
import { readJsonl, readJsonlLines } from './jsonl_reader';
import { loadDataset } from './load_dataset';

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'rlhfjs-data-'));
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function file(name: string, content: string | Buffer): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function dataErrorOf(promise: Promise<unknown>): Promise<DataError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return error as DataError;
  }
  throw new Error('expected a DataError, got none');
}

describe('readJsonl', () => {
  it('streams parsed lines with 1-based line numbers, skipping blank lines, BOM and CRLF handled', async () => {
    const path = file('basic.jsonl', '\uFEFF{"text":"a"}\r\n\r\n   \n{"text":"b"}\r\n{"text":"c"}');
    const rows = await collect(readJsonl(path));
    expect(rows).toEqual([
      { line: 1, value: { text: 'a' } },
      { line: 4, value: { text: 'b' } },
      { line: 5, value: { text: 'c' } },
    ]);
  });

  it('keeps multi-byte characters split across read chunks intact', async () => {
    // 1 MiB chunks: put a 4-byte emoji right across the first chunk boundary.
    const padding = 'x'.repeat((1 << 20) - 12);
    const path = file('emoji.jsonl', `{"text":"${padding}🙂é"}\n{"text":"ü"}\n`);
    const rows = await collect(readJsonl(path));
    expect((rows[0]?.value as { text: string }).text.endsWith('🙂é')).toBe(true);
    expect(rows[1]).toEqual({ line: 2, value: { text: 'ü' } });
  });

  it('reads a 10 MB line', async () => {
    const long = 'y'.repeat(10 * 1024 * 1024);
    const path = file('long.jsonl', `{"text":"short"}\n{"text":"${long}"}\n{"text":"after"}\n`);
    const rows = await collect(readJsonl(path));
    expect(rows.map((row) => row.line)).toEqual([1, 2, 3]);
    expect((rows[1]?.value as { text: string }).text.length).toBe(long.length);
  });

  it('rejects a line over maxLineBytes with a DataError naming the line, and goes on past it in readJsonlLines', async () => {
    const path = file('too_long.jsonl', `{"text":"a"}\n{"text":"${'z'.repeat(500)}"}\n{"text":"b"}\n`);
    const error = await dataErrorOf(collect(readJsonl(path, { maxLineBytes: 100 })));
    expect(error.code).toBe(DATA_ERROR_CODES.lineTooLong);
    expect(error.line).toBe(2);
    expect(error.file).toBe(path);
    expect(error.message).toContain('511 bytes');
    const lines = await collect(readJsonlLines(path, { maxLineBytes: 100 }));
    expect(lines.map((line) => [line.kind, line.line])).toEqual([
      ['text', 1],
      ['problem', 2],
      ['text', 3],
    ]);
  });

  it('reports bad JSON with the file and line', async () => {
    const path = file('bad.jsonl', '{"text":"a"}\n{"text": oops}\n');
    const error = await dataErrorOf(collect(readJsonl(path)));
    expect(error.code).toBe(DATA_ERROR_CODES.badJson);
    expect(error.line).toBe(2);
    expect(error.message).toContain('bad.jsonl, line 2');
  });

  it('reports invalid UTF-8 and a missing file', async () => {
    const path = file('latin1.jsonl', Buffer.from([0x7b, 0x7d, 0x0a, 0x22, 0xe9, 0x22, 0x0a]));
    const error = await dataErrorOf(collect(readJsonl(path)));
    expect(error.line).toBe(2);
    expect(error.message).toContain('UTF-8');
    const missing = await dataErrorOf(collect(readJsonl(join(directory, 'nope.jsonl'))));
    expect(missing.code).toBe(DATA_ERROR_CODES.file);
  });

  it('rejects a bad maxLineBytes', async () => {
    await expect(collect(readJsonl(file('x.jsonl', '{}'), { maxLineBytes: 0 }))).rejects.toThrow(ConfigError);
  });
});

describe('readJsonArray', () => {
  it('reads an array, and names the line and column of a JSON syntax error', async () => {
    expect(await readJsonArray(file('ok.json', '\uFEFF[{"text":"a"},\n{"text":"b"}]'))).toEqual([
      { text: 'a' },
      { text: 'b' },
    ]);
    const error = await dataErrorOf(readJsonArray(file('bad.json', '[\n{"text":"a"},\n{"text" "b"}\n]')));
    expect(error.code).toBe(DATA_ERROR_CODES.badJson);
    expect([error.line, error.column]).toEqual([3, 9]); // the `"b"` where a colon should be
    const truncated = await dataErrorOf(readJsonArray(file('truncated.json', '[\n{"text":"a"},\n{"te')));
    expect([truncated.code, truncated.line, truncated.column]).toEqual([DATA_ERROR_CODES.badJson, 3, 5]); // just past the last character
  });

  it('refuses invalid UTF-8 with its line and column, as the JSON Lines reader does', async () => {
    const bytes = Buffer.concat([Buffer.from('[{"text":"é"},\n {"text":"'), Buffer.from([0xff, 0x41]), Buffer.from('"}]')]);
    const error = await dataErrorOf(readJsonArray(file('latin1.json', bytes)));
    expect(error.code).toBe(DATA_ERROR_CODES.badJson);
    expect(error.message).toContain('not valid UTF-8 (byte 26 is 0xff)');
    expect([error.line, error.column]).toEqual([2, 11]);
    const overlong = await dataErrorOf(readJsonArray(file('overlong.json', Buffer.from([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d]))));
    expect([overlong.line, overlong.column]).toEqual([1, 3]);
    const surrogate = await dataErrorOf(readJsonArray(file('surrogate.json', Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]))));
    expect(surrogate.message).toContain('byte 2 is 0xed');
  });

  it('rejects a top level that is not an array', async () => {
    const error = await dataErrorOf(readJsonArray(file('object.json', '{"a": 1}  ')));
    expect(error.code).toBe(DATA_ERROR_CODES.notArray);
  });
});

describe('loadDataset', () => {
  it('loads every format from JSON Lines, normalised', async () => {
    const path = file(
      'sft.jsonl',
      [
        JSON.stringify({ prompt: 'What is 1 + 1?', completion: ' 2.', id: 7 }),
        JSON.stringify({ prompt: 'Hi', completion: ' there' }),
      ].join('\n'),
    );
    const dataset = await loadDataset(path);
    expect(dataset.format).toBe('prompt_completion');
    expect(dataset.style).toBe('plain');
    expect(dataset.records[0]).toEqual({
      kind: 'prompt_completion',
      style: 'plain',
      prompt: 'What is 1 + 1?',
      completion: ' 2.',
    });
    expect(dataset.lines).toEqual([1, 2]);
    expect(dataset.skipped).toBe(0);
  });

  it('throws at the first bad record naming line and field, or skips and collects with skipInvalid', async () => {
    const path = file(
      'mixed_bad.jsonl',
      [
        '{"prompt":"a","completion":"b"}',
        '{"prompt":"a","completion":3}',
        '{"prompt":"a","completion":"b"',
        '',
        '{"completion":"b"}',
        '{"prompt":"c","completion":"d"}',
      ].join('\n'),
    );
    const first = await dataErrorOf(loadDataset(path));
    expect([first.code, first.line, first.field]).toEqual([DATA_ERROR_CODES.wrongType, 2, 'completion']);
    expect(first.message).toContain('mixed_bad.jsonl, line 2, field "completion"');

    const dataset = await loadDataset(path, { skipInvalid: true });
    expect(dataset.records.map((record) => (record.kind === 'prompt_completion' ? record.prompt : ''))).toEqual([
      'a',
      'c',
    ]);
    expect(dataset.lines).toEqual([1, 6]);
    expect(dataset.skipped).toBe(3);
    expect(dataset.problems.map((problem) => [problem.code, problem.line, problem.field])).toEqual([
      [DATA_ERROR_CODES.wrongType, 2, 'completion'],
      [DATA_ERROR_CODES.badJson, 3, undefined],
      [DATA_ERROR_CODES.missingField, 5, 'prompt'],
    ]);
  });

  it('rejects a dataset of mixed formats naming the line', async () => {
    const path = file('mixed.jsonl', '{"text":"a"}\n{"text":"b"}\n{"prompt":"p","completion":"c"}\n');
    const error = await dataErrorOf(loadDataset(path));
    expect(error.code).toBe(DATA_ERROR_CODES.mixedFormat);
    expect(error.line).toBe(3);
    expect(error.message).toContain('line 1');
  });

  it('rejects plain and conversational records mixed in one dataset', async () => {
    const path = file('mixed_style.jsonl', '{"prompt":"p"}\n{"prompt":[{"role":"user","content":"p"}]}\n');
    const error = await dataErrorOf(loadDataset(path));
    expect([error.code, error.line]).toEqual([DATA_ERROR_CODES.mixedFormat, 2]);
  });

  it('says an empty file has no records, and so does a file of blank lines', async () => {
    for (const [name, content] of [
      ['empty.jsonl', ''],
      ['blank.jsonl', '\n  \r\n\n'],
      ['empty.json', '[]'],
    ] as const) {
      const error = await dataErrorOf(loadDataset(file(name, content)));
      expect(error.code).toBe(DATA_ERROR_CODES.empty);
      expect(error.message).toContain('no records');
    }
  });

  it('says so when skipInvalid leaves no valid record', async () => {
    const error = await dataErrorOf(loadDataset(file('all_bad.jsonl', '{"x":1}\n'), { skipInvalid: true }));
    expect(error.code).toBe(DATA_ERROR_CODES.empty);
    expect(error.message).toContain('no valid records');
  });

  it('loads a JSON array, locating records by element index', async () => {
    const path = file(
      'pref.json',
      JSON.stringify([
        { prompt: 'Q', chosen: ' good', rejected: ' bad' },
        { prompt: 'Q', chosen: ' good', rejected: 5 },
      ]),
    );
    const error = await dataErrorOf(loadDataset(path));
    expect([error.line, error.element, error.field]).toEqual([undefined, 1, 'rejected']);
    expect(error.message.startsWith(`${path}, element 1, field "rejected": `)).toBe(true);
    const mixed = await dataErrorOf(loadDataset(file('mixed.json', JSON.stringify([{ text: 'a' }, { text: 'b' }, { prompt: 'p', completion: 'c' }]))));
    expect([mixed.code, mixed.element]).toEqual([DATA_ERROR_CODES.mixedFormat, 2]);
    expect(mixed.message).toContain('as set by element 0');
    const dataset = await loadDataset(path, { skipInvalid: true });
    expect(dataset.format).toBe('preference');
    expect(dataset.lines).toEqual([0]);
    expect(dataset.fileType).toBe('json');
  });

  it('reads a .json file of JSON Lines as JSON Lines', async () => {
    const dataset = await loadDataset(file('lines.json', '{"text":"a"}\n{"text":"b"}\n'));
    expect(dataset.records).toHaveLength(2);
    expect([dataset.fileType, dataset.lines]).toEqual(['jsonl', [1, 2]]);
  });

  it('uses an explicit format, taking the prompt of preference records for prompt-only', async () => {
    const path = file('pref_as_prompts.jsonl', '{"prompt":"Q1","chosen":"a","rejected":"b"}\n');
    const dataset = await loadDataset(path, { format: 'prompt_only' });
    expect(dataset.records).toEqual([{ kind: 'prompt_only', style: 'plain', prompt: 'Q1' }]);
  });

  it('rejects an unknown extension and bad options', async () => {
    const error = await dataErrorOf(loadDataset(file('data.csv', 'a,b')));
    expect(error.message).toContain('".csv"');
    await expect(loadDataset(file('x.jsonl', '{}'), { format: 'nope' as never, maxLineBytes: -1 })).rejects.toThrow(
      /format must be one of[\s\S]*maxLineBytes must be a positive integer/,
    );
  });
});
