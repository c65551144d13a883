import { promises as fs, readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import { findDuplicateJsonKey } from './safetensors_format';
import { readSafetensors, readSafetensorsHeader } from './safetensors_reader';

const fixtures = path.join(__dirname, '../../test/fixtures/safetensors');
let directory: string;

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-safetensors-read-'));
});

afterAll(async () => {
  await fs.rm(directory, { recursive: true, force: true });
});

/** 8-byte little-endian length (`headerLength`, default the header's own length), header bytes, data bytes. */
function build(header: string | Uint8Array, dataBytes = 0, headerLength?: bigint): Uint8Array {
  const headerBytes = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(header);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(headerBytes.length));
  return Buffer.concat([prefix, headerBytes, Buffer.alloc(dataBytes, 7)]);
}

const f32 = (shape: unknown, offsets: unknown): string => JSON.stringify({ dtype: 'F32', shape, data_offsets: offsets });

interface HostileCase {
  name: string;
  bytes: Uint8Array;
  /** Fragments the message must contain besides the file path. */
  mentions: Array<string | RegExp>;
}

const GIB = 2 ** 30;

const hostileCases: HostileCase[] = [
  { name: 'empty file', bytes: new Uint8Array(0), mentions: ['0 bytes'] },
  { name: 'seven bytes', bytes: new Uint8Array(7), mentions: ['7 bytes'] },
  { name: 'zero header length', bytes: build('', 16), mentions: ['header length 0'] },
  { name: 'one byte header', bytes: build('{', 16), mentions: ['header length 1'] },
  { name: 'header length past end of file', bytes: build('{}', 0, 1000n), mentions: ['header length 1000', '10 bytes'] },
  { name: 'header length 2^63', bytes: build('{}', 0, 2n ** 63n), mentions: ['header length 9223372036854775808'] },
  { name: 'header length over 100 MB', bytes: build('{}', 0, 200_000_000n), mentions: ['200000000', 'limit'] },
  { name: 'truncated file', bytes: build(`{"w":${f32([4], [0, 16])}}`, 16).subarray(0, -4), mentions: ['"w"', '[0, 16]', "12 bytes"] },
  { name: 'bad JSON', bytes: build('{"w": {"dtype": '), mentions: ['not valid JSON'] },
  { name: 'JSON array', bytes: build('[1, 2, 3]'), mentions: ['start with "{"'] },
  { name: 'JSON string starting with brace inside', bytes: build('{"a":1} x'), mentions: ['not valid JSON'] },
  { name: 'non UTF-8 header', bytes: build(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), mentions: ['UTF-8'] },
  { name: 'unknown dtype', bytes: build('{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', 16), mentions: ['"w"', 'F128'] },
  { name: 'negative dimension', bytes: build(`{"w":${f32([-1, 4], [0, 16])}}`, 16), mentions: ['"w"', '[-1,4]'] },
  { name: 'fractional dimension', bytes: build(`{"w":${f32([1.5], [0, 6])}}`, 6), mentions: ['"w"', '1.5'] },
  { name: 'string dimension', bytes: build(`{"w":${f32(['4'], [0, 16])}}`, 16), mentions: ['"w"', '["4"]'] },
  { name: 'shape not an array', bytes: build(`{"w":${f32(4, [0, 16])}}`, 16), mentions: ['"w"', 'shape 4'] },
  {
    name: 'shape whose product overflows',
    bytes: build(`{"w":${f32([2 ** 40, 2 ** 40], [0, 4])}}`, 4),
    mentions: ['"w"', '[1099511627776, 1099511627776]', '4835703278458516698824704 bytes'],
  },
  { name: 'shape does not match byte range', bytes: build(`{"w":${f32([2, 3], [0, 20])}}`, 20), mentions: ['"w"', '24 bytes', 'hold 20'] },
  { name: 'offsets past end of file', bytes: build(`{"w":${f32([GIB / 4], [0, GIB])}}`, 64), mentions: ['"w"', '[0, 1073741824]', '64 bytes'] },
  {
    name: 'overlapping offsets',
    bytes: build(`{"a":${f32([2], [0, 8])},"b":${f32([2], [4, 12])}}`, 12),
    mentions: ['"b"', '"a"', 'overlap', '[4, 12]'],
  },
  { name: 'begin after end', bytes: build(`{"w":${f32([0], [8, 4])}}`, 8), mentions: ['"w"', '[8, 4]'] },
  { name: 'offsets not a pair', bytes: build(`{"w":${f32([1], [0, 4, 8])}}`, 8), mentions: ['"w"', 'data_offsets'] },
  { name: 'offsets missing', bytes: build('{"w":{"dtype":"F32","shape":[1]}}', 4), mentions: ['"w"', 'data_offsets missing'] },
  { name: 'entry not an object', bytes: build('{"w":[1,2]}'), mentions: ['"w"', 'not an object'] },
  { name: 'non-string metadata', bytes: build('{"__metadata__":{"format":"pt","step":3}}'), mentions: ['"step"', '3'] },
  { name: 'metadata array', bytes: build('{"__metadata__":["pt"]}'), mentions: ['__metadata__'] },
  {
    name: 'duplicate tensor name',
    bytes: build(`{"w":${f32([1], [0, 4])},"w":${f32([1], [4, 8])}}`, 8),
    mentions: ['repeats the key "w"'],
  },
  { name: 'gap between tensors', bytes: build(`{"a":${f32([1], [0, 4])},"b":${f32([1], [8, 12])}}`, 12), mentions: ['[4, 8)', '"b"'] },
  { name: 'entry nested 100,000 deep', bytes: build(`{"w":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), mentions: ['"w"', 'nested too deeply to show'] },
  { name: 'bytes after the last tensor', bytes: build(`{"a":${f32([1], [0, 4])}}`, 10), mentions: ['[4, 10)'] },
];

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('readSafetensors on malformed and hostile files', () => {
  it.each(hostileCases.map((hostile) => [hostile.name, hostile] as const))('rejects %s', async (_, hostile) => {
    const file = path.join(directory, `${hostile.name.replace(/\W+/g, '_')}.safetensors`);
    await fs.writeFile(file, hostile.bytes);
    const before = process.memoryUsage().arrayBuffers;
    const started = Date.now();
    for (const read of [() => readSafetensors(file), () => readSafetensorsHeader(file)]) {
      const error = await rejection(read());
      expect(error).toBeInstanceOf(CheckpointError);
      const message = (error as Error).message;
      expect(message).toContain(file);
      for (const mention of hostile.mentions) expect(message).toMatch(mention instanceof RegExp ? mention : new RegExp(escape(mention)));
      expect((error as CheckpointError).code).toBe('SAFETENSORS_INVALID');
    }
    expect(Date.now() - started).toBeLessThan(2000);
    // Nothing near a claimed size (up to 1 GiB above) was allocated.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 2 ** 20);
  });

  it('covers at least 20 cases', () => {
    expect(hostileCases.length).toBeGreaterThanOrEqual(20);
  });

  it('accepts gaps only when asked, and reads the tensors around them', async () => {
    const file = path.join(directory, 'gap_allowed.safetensors');
    const bytes = build(`{"a":${f32([1], [0, 4])},"b":${f32([1], [8, 12])}}`, 12);
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32(bytes.length - 4, 2.5, true);
    await fs.writeFile(file, bytes);
    const read = await readSafetensors(file, { requireFullCoverage: false });
    expect(Array.from(read.tensors.get('b')?.data ?? [])).toEqual([2.5]);
  });

  it('names a missing file with code CHECKPOINT_NOT_FOUND', async () => {
    const error = await rejection(readSafetensors(path.join(directory, 'absent.safetensors')));
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).code).toBe('CHECKPOINT_NOT_FOUND');
  });

  it('refuses I64 values outside int32, naming the tensor and the value', async () => {
    const file = path.join(directory, 'i64_big.safetensors');
    const bytes = build('{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}', 16);
    const view = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 16);
    view.setBigInt64(0, 5n, true);
    view.setBigInt64(8, 2n ** 31n, true);
    await fs.writeFile(file, bytes);
    const error = await rejection(readSafetensors(file));
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/"ids".*2147483648.*flat index 1/);
  });

  it('keeps a tensor named __proto__ as data, not as a prototype', async () => {
    const file = path.join(directory, 'proto.safetensors');
    await fs.writeFile(file, build(`{"__metadata__":{"__proto__":"x"},"__proto__":${f32([1], [0, 4])}}`, 4));
    const read = await readSafetensors(file);
    expect([...read.tensors.keys()]).toEqual(['__proto__']);
    expect(Object.keys(read.metadata)).toEqual(['__proto__']);
    expect(read.metadata['__proto__']).toBe('x');
  });
});

describe('readSafetensors on files written by the official library', () => {
  interface Expected {
    tensors: Record<string, { shape: number[]; values: number[] }>;
  }
  const expected = JSON.parse(readFileSync(path.join(fixtures, 'hf_all_dtypes.json'), 'utf8')) as Expected;

  it('converts every dtype to the values PyTorch stored', async () => {
    const read = await readSafetensors(path.join(fixtures, 'hf_all_dtypes.safetensors'));
    expect(read.metadata).toEqual({ format: 'pt' });
    expect(new Set(read.tensors.keys())).toEqual(new Set(Object.keys(expected.tensors)));
    const kinds: Record<string, string> = {};
    for (const [name, { shape, values }] of Object.entries(expected.tensors)) {
      const entry = read.tensors.get(name);
      expect(entry?.shape).toEqual(shape);
      kinds[name] = `${entry?.dtype}:${entry?.data.constructor.name}`;
      // Float32 of the stored value: exact for F32/F16/BF16, float32 rounding of F64.
      const wanted = name === 'f64' ? Array.from(Float32Array.from(values)) : values;
      expect(Array.from(entry?.data ?? [])).toEqual(wanted.map((value) => (name === 'bool' ? Number(value) : value)));
    }
    expect(kinds).toEqual({
      f32: 'F32:Float32Array',
      f16: 'F16:Float32Array',
      bf16: 'BF16:Float32Array',
      f64: 'F64:Float32Array',
      i64: 'I64:Int32Array',
      i32: 'I32:Int32Array',
      i16: 'I16:Int32Array',
      i8: 'I8:Int32Array',
      u8: 'U8:Uint8Array',
      bool: 'BOOL:Uint8Array',
      scalar: 'F32:Float32Array',
      empty: 'F32:Float32Array',
    });
  });

  it('reads only the selected tensors, and the header alone without data', async () => {
    const file = path.join(fixtures, 'hf_all_dtypes.safetensors');
    const read = await readSafetensors(file, { names: (name) => name.startsWith('i') });
    expect([...read.tensors.keys()].sort()).toEqual(['i16', 'i32', 'i64', 'i8']);
    const header = await readSafetensorsHeader(file);
    expect(header.tensors.get('bf16')).toEqual({ dtype: 'BF16', shape: [2, 3], dataOffsets: expect.any(Array) });
    expect(header.headerByteLength % 8).toBe(0);
    expect(8 + header.headerByteLength + header.dataByteLength).toBe((await fs.stat(file)).size);
  });
});

describe('findDuplicateJsonKey', () => {
  it('finds repeats at any depth and ignores look-alikes in strings and arrays', () => {
    expect(findDuplicateJsonKey('{"a":1,"b":{"c":2,"c":3}}')).toBe('c');
    expect(findDuplicateJsonKey('{"a":"\\"a\\":","b":["a","a"],"c":{"a":1}}')).toBeUndefined();
    expect(findDuplicateJsonKey('{"\\u0061":1,"a":2}')).toBe('a');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
