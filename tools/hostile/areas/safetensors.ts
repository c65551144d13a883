import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '@rlhfjs/core';
import type { HostileArea, HostileCase } from '../hostile_area';
import { mutateBytes, mutateJson, Random } from '../random';

const FILE = 'model.safetensors';
const DTYPE_BYTES: Readonly<Record<string, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8 };

/** 8-byte little-endian header length (`declared`, default the real one), the header, then the data. */
function build(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), declared?: bigint): Uint8Array {
  const headerBytes = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(header);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(declared ?? BigInt(headerBytes.length));
  return Buffer.concat([prefix, headerBytes, data]);
}

const f32 = (shape: unknown, offsets: unknown): unknown => ({ dtype: 'F32', shape, data_offsets: offsets });

/** A valid file: an F32 matrix, an I32 vector and an F16 scalar, with metadata. */
function validHeader(): Record<string, unknown> {
  return {
    __metadata__: { format: 'pt' },
    'model.layers.0.weight': f32([2, 3], [0, 24]),
    'model.ids': { dtype: 'I32', shape: [2], data_offsets: [24, 32] },
    'model.scale': { dtype: 'F16', shape: [], data_offsets: [32, 34] },
  };
}

function validData(): Uint8Array {
  const data = Buffer.alloc(34);
  [1.5, -2, 0.25, 3, 1e-3, -7].forEach((value, index) => data.writeFloatLE(value, index * 4));
  data.writeInt32LE(-5, 24);
  data.writeInt32LE(123456, 28);
  data.writeUInt16LE(0x3c00, 32); // 1.0 in F16
  return data;
}

function structuredCases(): HostileCase[] {
  const data = validData();
  const header = JSON.stringify(validHeader());
  const refuse = (name: string, bytes: Uint8Array): HostileCase => ({ name, expect: 'refuse', files: { [FILE]: bytes } });
  const withEntry = (entry: unknown): string => JSON.stringify({ w: entry });
  return [
    { name: 'valid file', expect: 'accept', files: { [FILE]: build(header, data) } },
    { name: 'valid file, header padded with spaces', expect: 'accept', files: { [FILE]: build(`${header}    `, data) } },
    { name: 'valid empty header', expect: 'accept', files: { [FILE]: build('{}') } },
    refuse('empty file', new Uint8Array(0)),
    refuse('seven bytes', new Uint8Array(7)),
    refuse('header length 0', build('', data)),
    refuse('header length past the end', build(header, data, 100_000n)),
    refuse('header length 2^63', build(header, data, 2n ** 63n)),
    refuse('header length 2^64-1', build(header, data, 2n ** 64n - 1n)),
    refuse('header length 200 MB', build(header, data, 200_000_000n)),
    refuse('truncated data', build(header, data.subarray(0, 30))),
    refuse('bytes after the last tensor', build(header, Buffer.concat([data, Buffer.alloc(4)]))),
    refuse('header not JSON', build('{"w": {"dtype": ', data)),
    refuse('header a JSON array', build('[1,2,3]')),
    refuse('header a JSON string', build('"{}"')),
    refuse('header null', build('null')),
    refuse('header not UTF-8', build(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))),
    refuse('NUL bytes in header', build('{"w"\u0000:1}')),
    refuse('unknown dtype', build(withEntry({ dtype: 'F128', shape: [1], data_offsets: [0, 16] }), new Uint8Array(16))),
    refuse('dtype lower case', build(withEntry({ dtype: 'f32', shape: [1], data_offsets: [0, 4] }), new Uint8Array(4))),
    refuse('F8 dtype', build(withEntry({ dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] }), new Uint8Array(4))),
    refuse('negative dimension', build(withEntry(f32([-1, 4], [0, 16])), new Uint8Array(16))),
    refuse('fractional dimension', build(withEntry(f32([1.5], [0, 6])), new Uint8Array(6))),
    refuse('string dimension', build(withEntry(f32(['4'], [0, 16])), new Uint8Array(16))),
    refuse('shape not an array', build(withEntry(f32(4, [0, 16])), new Uint8Array(16))),
    refuse('shape product overflows', build(withEntry(f32([2 ** 40, 2 ** 40], [0, 4])), new Uint8Array(4))),
    refuse('shape of 2^31 elements in 4 bytes', build(withEntry(f32([2 ** 31], [0, 4])), new Uint8Array(4))),
    refuse('shape does not match byte range', build(withEntry(f32([2, 3], [0, 20])), new Uint8Array(20))),
    refuse('offsets past the end, 1 GiB', build(withEntry(f32([2 ** 28], [0, 2 ** 30])), new Uint8Array(64))),
    refuse('offsets 2^53+2', build(withEntry(f32([1], [2 ** 53 + 2, 2 ** 53 + 6])), new Uint8Array(4))),
    refuse('overlapping tensors', build(JSON.stringify({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }), new Uint8Array(12))),
    refuse('begin after end', build(withEntry(f32([0], [8, 4])), new Uint8Array(8))),
    refuse('negative offsets', build(withEntry(f32([1], [-4, 0])), new Uint8Array(4))),
    refuse('offsets not a pair', build(withEntry(f32([1], [0, 4, 8])), new Uint8Array(8))),
    refuse('offsets missing', build(withEntry({ dtype: 'F32', shape: [1] }), new Uint8Array(4))),
    refuse('dtype missing', build(withEntry({ shape: [1], data_offsets: [0, 4] }), new Uint8Array(4))),
    refuse('entry not an object', build('{"w":[1,2]}')),
    refuse('entry null', build('{"w":null}')),
    refuse('metadata value a number', build('{"__metadata__":{"format":"pt","step":3}}')),
    refuse('metadata an array', build('{"__metadata__":["pt"]}')),
    refuse('duplicate tensor name', build(`{"w":${JSON.stringify(f32([1], [0, 4]))},"w":${JSON.stringify(f32([1], [4, 8]))}}`, new Uint8Array(8))),
    refuse('gap between tensors', build(JSON.stringify({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }), new Uint8Array(12))),
    refuse('deeply nested header', build(`{"w":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)),
    refuse('I64 value outside int32', build(withEntry({ dtype: 'I64', shape: [1], data_offsets: [0, 8] }), Buffer.from([0, 0, 0, 0, 1, 0, 0, 0]))),
  ];
}

function mutatedCases(seed: number, count: number): HostileCase[] {
  const random = new Random(seed);
  const data = validData();
  const valid = build(JSON.stringify(validHeader()), data);
  const headerEnd = valid.length - data.length;
  const cases: HostileCase[] = [];
  for (let index = 0; index < count; index += 1) {
    if (index % 2 === 0) {
      const { bytes, what } = mutateBytes(valid, random, 0, headerEnd);
      cases.push({ name: `header bytes: ${what}`, expect: 'either', files: { [FILE]: bytes } });
    } else {
      const { value, path } = mutateJson(validHeader(), random);
      cases.push({ name: `header JSON: ${path} replaced`, expect: 'either', files: { [FILE]: build(JSON.stringify(value) ?? 'null', data) } });
    }
  }
  return cases;
}

/**
 * Checks what `readSafetensors` returned against an independent reading of the bytes: every tensor of the header
 * present, with the shape and the bytes the header points at (F32 and I32 compared bit for bit).
 */
function independentProblems(bytes: Uint8Array, tensors: Map<string, { dtype: string; shape: readonly number[]; data: ArrayBufferView }>): string[] {
  const problems: string[] = [];
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.readBigUInt64LE(0));
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(view.subarray(8, 8 + headerLength))) as typeof header;
  } catch (error) {
    return [`accepted a header that is not valid UTF-8 JSON (${(error as Error).message})`];
  }
  const names = Object.keys(header).filter((name) => name !== '__metadata__');
  if (names.length !== tensors.size) problems.push(`header has ${names.length} tensors, read ${tensors.size}`);
  let covered = 0;
  for (const name of names) {
    const info = header[name];
    const entry = tensors.get(name);
    if (info === undefined || entry === undefined) {
      problems.push(`tensor "${name}" missing`);
      continue;
    }
    const [begin, end] = info.data_offsets;
    const elements = info.shape.reduce((product, size) => product * size, 1);
    const size = DTYPE_BYTES[info.dtype];
    if (size === undefined || elements * size !== end - begin) problems.push(`"${name}": ${info.dtype} ${JSON.stringify(info.shape)} in [${begin}, ${end}) accepted`);
    covered += end - begin;
    if (JSON.stringify(entry.shape) !== JSON.stringify(info.shape)) problems.push(`"${name}": shape ${JSON.stringify(entry.shape)}, header says ${JSON.stringify(info.shape)}`);
    if (info.dtype === 'F32' || info.dtype === 'I32') {
      const stored = view.subarray(8 + headerLength + begin, 8 + headerLength + end);
      const read = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
      if (!stored.equals(read)) problems.push(`"${name}": values differ from the file's bytes`);
    }
  }
  if (covered !== view.length - 8 - headerLength) problems.push(`tensors cover ${covered} of ${view.length - 8 - headerLength} data bytes`);
  return problems;
}

export const safetensorsArea: HostileArea = {
  name: 'safetensors',
  cases: (seed) => [...structuredCases(), ...mutatedCases(seed, 400)],
  async attempt(directory) {
    const path = join(directory, FILE);
    const file = await readSafetensors(path);
    return independentProblems(readFileSync(path), file.tensors);
  },
};
