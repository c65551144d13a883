import { createHash } from 'crypto';
import { readFileSync } from 'fs';
import * as path from 'path';
import { BF16_CANONICAL_NAN, bf16ToFloat32, f16ToFloat32, float32ToBf16 } from './float_conversion';

interface Golden {
  bf16_edge_inputs: number[];
  bf16_edge_outputs: number[];
  bf16_random_seed: number;
  bf16_random_count: number;
  bf16_random_first: number[];
  bf16_random_sha256: string;
  f16_all_float32_sha256: string;
  f16_samples: Record<string, number>;
}

const golden = JSON.parse(readFileSync(path.join(__dirname, '../../test/fixtures/safetensors/float_conversion_golden.json'), 'utf8')) as Golden;

function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

function sha256(view: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)).digest('hex');
}

/** The generator tools/golden/safetensors_float_conversion.py uses. */
function xorshift32(seed: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  let state = seed >>> 0;
  for (let index = 0; index < count; index++) {
    state = (state ^ (state << 13)) >>> 0;
    state = (state ^ (state >>> 17)) >>> 0;
    state = (state ^ (state << 5)) >>> 0;
    out[index] = state;
  }
  return out;
}

describe('float32ToBf16', () => {
  it('rounds to nearest, ties to even (analytic)', () => {
    // 1 + 2^-8 is exactly halfway between bf16 1.0 (0x3F80) and 1 + 2^-7 (0x3F81): ties go to the even 0x3F80.
    // 1 + 3·2^-8 is halfway between 0x3F81 and 0x3F82: ties go to the even 0x3F82.
    const values = new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, 1 + 2 ** -8 - 2 ** -20, -2.5]);
    expect(Array.from(float32ToBf16(values))).toEqual([0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x3f80, 0xc020]);
  });

  it('overflows to infinity past the largest bf16, keeps infinities, turns NaN into a NaN', () => {
    const largestBf16 = (2 - 2 ** -7) * 2 ** 127; // 0x7F7F
    const bits = float32ToBf16(new Float32Array([largestBf16, 3.4028234663852886e38, Infinity, -Infinity, NaN]));
    expect(Array.from(bits)).toEqual([0x7f7f, 0x7f80, 0x7f80, 0xff80, BF16_CANONICAL_NAN]);
    expect(Number.isNaN(bf16ToFloat32(bits.subarray(4))[0])).toBe(true);
  });

  it('matches PyTorch on edge cases', () => {
    expect(Array.from(float32ToBf16(fromBits(golden.bf16_edge_inputs)))).toEqual(golden.bf16_edge_outputs);
  });

  it('matches PyTorch on 200000 random float32 bit patterns (NaNs and subnormals included)', () => {
    const bits = xorshift32(golden.bf16_random_seed, golden.bf16_random_count);
    expect(Array.from(bits.subarray(0, 4))).toEqual(golden.bf16_random_first);
    expect(sha256(float32ToBf16(new Float32Array(bits.buffer)))).toBe(golden.bf16_random_sha256);
  });

  it('writes into a given output and refuses one that is too short', () => {
    const output = new Uint16Array(3);
    expect(float32ToBf16(new Float32Array([1, 2]), output)).toBe(output);
    expect(Array.from(output)).toEqual([0x3f80, 0x4000, 0]);
    expect(() => float32ToBf16(new Float32Array(4), output)).toThrow(RangeError);
  });

  it('round-trips every bf16 value exactly through float32', () => {
    const all = new Uint16Array(65536).map((_, index) => index);
    const back = float32ToBf16(bf16ToFloat32(all));
    for (let index = 0; index < 65536; index++) {
      const isNaN = (index & 0x7fff) > 0x7f80;
      if ((isNaN ? BF16_CANONICAL_NAN : index) !== back[index]) throw new Error(`bf16 0x${index.toString(16)} → 0x${(back[index] as number).toString(16)}`);
    }
  });
});

describe('bf16ToFloat32', () => {
  it('places the bits in the top half of a float32', () => {
    expect(Array.from(bf16ToFloat32(new Uint16Array([0x3f80, 0xc020, 0x0001, 0x8000, 0x7f80])))).toEqual([
      1,
      -2.5,
      2 ** -133, // smallest bf16 subnormal
      -0,
      Infinity,
    ]);
  });
});

describe('f16ToFloat32', () => {
  it('decodes normals, subnormals, zeros, infinities and NaN (analytic)', () => {
    const decoded = f16ToFloat32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555]));
    expect(Array.from(decoded.subarray(0, 12))).toEqual([
      1,
      -2,
      65504, // largest finite
      2 ** -14, // smallest normal
      2 ** -24, // smallest subnormal
      1023 * 2 ** -24, // largest subnormal
      -(2 ** -24),
      0,
      -0,
      Infinity,
      -Infinity,
      NaN,
    ]);
    expect(Object.is(decoded[8], -0)).toBe(true);
    expect(decoded[12]).toBe(1365 / 4096); // 0x3555 = 2^-2 · (1 + 341/1024)
  });

  it('keeps a NaN payload and sign, quieting a signalling NaN', () => {
    const bits = new Uint32Array(f16ToFloat32(new Uint16Array([0xfd01, 0x7e01])).buffer);
    expect(Array.from(bits)).toEqual([0xffe02000, 0x7fc02000]);
  });

  it('matches PyTorch on all 65536 half bit patterns', () => {
    const all = new Uint16Array(65536).map((_, index) => index);
    const decoded = f16ToFloat32(all);
    for (const [pattern, value] of Object.entries(golden.f16_samples)) expect(decoded[Number(pattern)]).toBe(value);
    expect(sha256(decoded)).toBe(golden.f16_all_float32_sha256);
  });
});
