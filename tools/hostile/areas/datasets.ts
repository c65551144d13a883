import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '@rlhfjs/core';
import type { HostileArea, HostileCase } from '../hostile_area';
import { mutateBytes, Random } from '../random';

const RECORDS = [
  { prompt: 'Translate: chat', completion: ' cat' },
  { prompt: 'Émoji? ', completion: ' 🙂 yes' },
  { prompt: 'Quote "this"\n', completion: ' \\ back\tslash' },
  { prompt: '日本語', completion: ' にほんご' },
];

const jsonl = (records: readonly unknown[]): string => `${records.map((record) => JSON.stringify(record)).join('\n')}\n`;
const array = (records: readonly unknown[]): string => `[\n${records.map((record) => `  ${JSON.stringify(record)}`).join(',\n')}\n]\n`;

function both(name: string, expect: HostileCase['expect'], records: readonly unknown[]): HostileCase[] {
  return [
    { name: `JSONL: ${name}`, expect, files: { 'data.jsonl': jsonl(records) } },
    { name: `JSON array: ${name}`, expect, files: { 'data.json': array(records) } },
  ];
}

function bytesCase(name: string, file: string, parts: ReadonlyArray<string | number[]>): HostileCase {
  const bytes = Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));
  return { name, expect: 'refuse', files: { [file]: bytes } };
}

function structuredCases(): HostileCase[] {
  const first = JSON.stringify(RECORDS[0]);
  return [
    ...both('valid prompt/completion', 'accept', RECORDS),
    { name: 'JSONL: CRLF line ends, BOM, blank lines', expect: 'accept', files: { 'data.jsonl': `\uFEFF${RECORDS.map((record) => JSON.stringify(record)).join('\r\n\r\n')}\r\n` } },
    { name: 'JSON array: BOM', expect: 'accept', files: { 'data.json': `\uFEFF${array(RECORDS)}` } },
    ...both('a wrong-typed field', 'refuse', [...RECORDS, { prompt: 'p', completion: 5 }]),
    ...both('a null record', 'refuse', [...RECORDS, null]),
    ...both('an array record', 'refuse', [RECORDS[0], [1, 2]]),
    ...both('mixed formats', 'refuse', [...RECORDS, { text: 'plain' }]),
    ...both('a record with no known field', 'refuse', [{ question: 'q', answer: 'a' }]),
    ...both('an empty message list', 'refuse', [{ messages: [] }]),
    ...both('an unknown role', 'refuse', [{ messages: [{ role: 'wizard', content: 'x' }] }]),
    ...both('a __proto__ field', 'refuse', [JSON.parse('{"__proto__": {"prompt": "p", "completion": "c"}}') as unknown]),
    { name: 'JSONL: empty file', expect: 'refuse', files: { 'data.jsonl': '' } },
    { name: 'JSONL: only blank lines', expect: 'refuse', files: { 'data.jsonl': '\n \r\n\t\n' } },
    { name: 'JSON array: empty array', expect: 'refuse', files: { 'data.json': '[]' } },
    { name: 'JSON array: empty file', expect: 'refuse', files: { 'data.json': '' } },
    { name: 'JSON array: an unclosed object at the top', expect: 'refuse', files: { 'data.json': '{"a": 1' } },
    { name: 'JSON array: truncated', expect: 'refuse', files: { 'data.json': array(RECORDS).slice(0, 60) } },
    { name: 'JSON array: trailing comma', expect: 'refuse', files: { 'data.json': `[${first},]` } },
    { name: 'JSON array: two arrays', expect: 'refuse', files: { 'data.json': `[${first}][${first}]` } },
    { name: 'JSONL: truncated last line', expect: 'refuse', files: { 'data.jsonl': jsonl(RECORDS).slice(0, -10) } },
    { name: 'JSONL: two records on one line', expect: 'refuse', files: { 'data.jsonl': `${first}${first}\n` } },
    { name: 'JSONL: NUL bytes', expect: 'refuse', files: { 'data.jsonl': `${first}\n\u0000\u0000\n` } },
    { name: 'JSONL: deeply nested value', expect: 'refuse', files: { 'data.jsonl': `{"prompt": "p", "completion": ${'['.repeat(200_000)}${']'.repeat(200_000)}}\n` } },
    bytesCase('JSONL: invalid UTF-8 in a value', 'data.jsonl', [`${first}\n{"prompt": "caf`, [0xe9], '", "completion": " x"}\n']),
    bytesCase('JSON array: invalid UTF-8 in a value', 'data.json', [`[${first},\n{"prompt": "caf`, [0xe9], '", "completion": " x"}]']),
    bytesCase('JSONL: UTF-16 file', 'data.jsonl', [[0xff, 0xfe], ...[...first].map((character) => [character.charCodeAt(0), 0])]),
    bytesCase('JSON array: UTF-16 file', 'data.json', [[0xff, 0xfe], ...[...`[${first}]`].map((character) => [character.charCodeAt(0), 0])]),
    bytesCase('JSONL: overlong UTF-8 slash', 'data.jsonl', ['{"prompt": "a', [0xc0, 0xaf], '", "completion": "b"}\n']),
    bytesCase('JSON array: UTF-8 surrogate half', 'data.json', ['[{"prompt": "a', [0xed, 0xa0, 0x80], '", "completion": "b"}]']),
    bytesCase('JSON array: truncated multi-byte character', 'data.json', ['[{"prompt": "a', [0xe6, 0x97], '"}]']),
    { name: 'file with an unknown extension', expect: 'refuse', files: { 'data.csv': 'prompt,completion\na,b\n' } },
  ];
}

function mutatedCases(seed: number, count: number): HostileCase[] {
  const random = new Random(seed);
  const cases: HostileCase[] = [];
  for (let index = 0; index < count; index += 1) {
    const asArray = index % 2 === 1;
    const source = Buffer.from(asArray ? array(RECORDS) : jsonl(RECORDS));
    const { bytes, what } = mutateBytes(source, random);
    cases.push({ name: `${asArray ? 'JSON array' : 'JSONL'} bytes: ${what}`, expect: 'either', files: { [asArray ? 'data.json' : 'data.jsonl']: bytes } });
  }
  return cases;
}

/**
 * Checks an accepted file against an independent reading: the bytes are strict UTF-8, there are as many records
 * as lines (or elements), and every prompt/completion/text string came through unchanged.
 */
function independentProblems(bytes: Buffer, isArray: boolean, records: readonly Readonly<Record<string, unknown>>[]): string[] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return ['accepted a file that is not valid UTF-8'];
  }
  let sources: unknown[];
  try {
    sources = isArray ? (JSON.parse(text) as unknown[]) : text.split('\n').filter((line) => line.trim().length > 0).map((line) => JSON.parse(line) as unknown);
  } catch (error) {
    return [`accepted a file that is not valid JSON${isArray ? '' : ' Lines'} (${(error as Error).message})`];
  }
  if (sources.length !== records.length) return [`the file holds ${sources.length} records, ${records.length} were read`];
  const problems: string[] = [];
  sources.forEach((source, index) => {
    for (const key of ['prompt', 'completion', 'text']) {
      const expected = (source as Record<string, unknown>)[key];
      const read = records[index]?.[key];
      if (typeof expected === 'string' && typeof read === 'string' && read !== expected) problems.push(`record ${index}: ${key} ${JSON.stringify(read)} read as ${JSON.stringify(expected)}`);
    }
  });
  return problems;
}

export const datasetsArea: HostileArea = {
  name: 'datasets',
  cases: (seed) => [...structuredCases(), ...mutatedCases(seed, 300)],
  async attempt(directory, hostileCase) {
    const name = Object.keys(hostileCase.files)[0] as string;
    const path = join(directory, name);
    const dataset = await loadDataset(path);
    const bytes = readFileSync(path);
    // A `.json` file whose first character is not '[' is read as JSON Lines, as Hugging Face `datasets` writes them.
    const isArray = name.endsWith('.json') && bytes.toString('utf8').trimStart().startsWith('[');
    return independentProblems(bytes, isArray, dataset.records as never);
  },
};
