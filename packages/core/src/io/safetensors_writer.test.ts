import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, ShapeError } from '../errors/errors';
import { readSafetensors } from './safetensors_reader';
import { writeSafetensors, type WritableTensor } from './safetensors_writer';

const fixtures = path.join(__dirname, '../../test/fixtures/safetensors');
let directory: string;

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-safetensors-write-'));
});

afterAll(async () => {
  await fs.rm(directory, { recursive: true, force: true });
});

function asWritable(tensors: Map<string, { data: Float32Array | Int32Array | Uint8Array; shape: readonly number[] }>): Map<string, WritableTensor> {
  return new Map([...tensors].map(([name, { data, shape }]) => [name, { data: data as Float32Array | Int32Array, shape }]));
}

describe('writeSafetensors', () => {
  it('writes the same bytes as safetensors.torch.save_file (F32 and I32, metadata)', async () => {
    const file = path.join(directory, 'f32_i32.safetensors');
    const embed = Float32Array.from({ length: 12 }, (_, index) => Math.fround(index / 7));
    // Insertion order differs from file order on purpose: the writer sorts.
    await writeSafetensors(
      file,
      {
        positions: { data: Int32Array.from([0, 1, 2]), shape: [1, 3] },
        'model.embed.weight': { data: embed, shape: [3, 4] },
        'model.bias': { data: Float32Array.from([-1.5, 2.25]), shape: [2] },
      },
      { metadata: { format: 'pt' } },
    );
    // Division in float32 (torch) and float64-then-round (here) agree for these values; the bytes prove it.
    expect(await fs.readFile(file)).toEqual(await fs.readFile(path.join(fixtures, 'hf_f32_i32.safetensors')));
  });

  it('writes the same BF16 bytes as torch.to(bfloat16) + save_file, ties to even and overflow included', async () => {
    const file = path.join(directory, 'bf16.safetensors');
    const ties = Float32Array.from([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4028234663852886e38, Infinity, -0, 1e-40, 0.1]);
    const thirds = Float32Array.from({ length: 6 }, (_, index) => Math.fround(index / 3));
    await writeSafetensors(file, new Map([['w', { data: ties, shape: [8] }], ['a', { data: thirds, shape: [2, 3] }]]), { dtype: 'BF16' });
    expect(await fs.readFile(file)).toEqual(await fs.readFile(path.join(fixtures, 'hf_bf16.safetensors')));
  });

  it.each(['F32', 'BF16'] as const)('round-trips %s: write → read → write is byte-identical', async (dtype) => {
    const values = Float32Array.from({ length: 1000 }, (_, index) => Math.sin(index) * 10 ** ((index % 9) - 4));
    values[3] = NaN;
    values[4] = -Infinity;
    const first = path.join(directory, `first_${dtype}.safetensors`);
    const second = path.join(directory, `second_${dtype}.safetensors`);
    const tensors = new Map<string, WritableTensor>([
      ['layers.0.weight', { data: values, shape: [10, 100] }],
      ['layers.0.ids', { data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0]), shape: [3] }],
      ['scalar', { data: Float32Array.from([0.5]), shape: [] }],
      ['empty', { data: new Float32Array(0), shape: [0, 4] }],
    ]);
    await writeSafetensors(first, tensors, { dtype, metadata: { step: '12', format: 'pt' } });
    const read = await readSafetensors(first);
    expect(read.metadata).toEqual({ format: 'pt', step: '12' });
    expect(read.tensors.get('layers.0.weight')?.dtype).toBe(dtype);
    expect(read.tensors.get('layers.0.ids')?.dtype).toBe('I32');
    expect(read.tensors.get('scalar')?.shape).toEqual([]);
    expect(read.tensors.get('empty')?.shape).toEqual([0, 4]);
    expect(Array.from(read.tensors.get('layers.0.ids')?.data ?? [])).toEqual([-(2 ** 31), 2 ** 31 - 1, 0]);
    const weight = read.tensors.get('layers.0.weight')?.data as Float32Array;
    if (dtype === 'F32') {
      expect(weight).toEqual(values);
    } else {
      // bf16 keeps 8 significant bits: rounding error at most half an ulp, 2^-8 of the value.
      for (let index = 0; index < values.length; index++) {
        const value = values[index] as number;
        if (Number.isFinite(value)) expect(Math.abs((weight[index] as number) - value)).toBeLessThanOrEqual(Math.abs(value) * 2 ** -8);
      }
      expect(Number.isNaN(weight[3])).toBe(true);
      expect(weight[4]).toBe(-Infinity);
    }
    await writeSafetensors(second, asWritable(read.tensors), { dtype, metadata: read.metadata });
    expect(await fs.readFile(second)).toEqual(await fs.readFile(first));
  });

  it('pads the header with spaces to a multiple of 8 and omits empty metadata', async () => {
    const file = path.join(directory, 'padding.safetensors');
    await writeSafetensors(file, { x: { data: Float32Array.from([1]), shape: [1] } }, { metadata: {} });
    const bytes = await fs.readFile(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const json = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect(headerLength).toBe(Math.ceil(json.length / 8) * 8);
    expect(bytes.subarray(8, 8 + headerLength).toString('utf8')).toBe(json.padEnd(headerLength, ' '));
    expect(bytes.length).toBe(8 + headerLength + 4);
  });

  it('refuses mismatched shapes and bad options without touching an existing file', async () => {
    const file = path.join(directory, 'kept.safetensors');
    await writeSafetensors(file, { x: { data: Float32Array.from([1, 2]), shape: [2] } });
    const before = await fs.readFile(file);
    await expect(writeSafetensors(file, { x: { data: Float32Array.from([1, 2]), shape: [3] } })).rejects.toThrow(ShapeError);
    await expect(writeSafetensors(file, { x: { data: Float32Array.from([1]), shape: [1.5] } })).rejects.toThrow(ShapeError);
    await expect(writeSafetensors(file, { __metadata__: { data: Float32Array.from([1]), shape: [1] } })).rejects.toThrow(ConfigError);
    const badOptions = { dtype: 'F16', metadata: { a: 3 } } as unknown as Parameters<typeof writeSafetensors>[2];
    const error = await writeSafetensors(file, {}, badOptions).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(2);
    expect(await fs.readFile(file)).toEqual(before);
    expect((await fs.readdir(directory)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('does not change the caller’s tensors', async () => {
    const data = Float32Array.from([1.00390625, 3]);
    const shape = [2];
    await writeSafetensors(path.join(directory, 'untouched.safetensors'), { x: { data, shape } }, { dtype: 'BF16' });
    expect(Array.from(data)).toEqual([1.00390625, 3]);
    expect(shape).toEqual([2]);
  });
});
