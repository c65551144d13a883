import { ConfigError } from '@rlhfjs/core';
import { FP4_CODE, NF4_CODE } from './code_tables';
import { dequantize4bit, effectiveAbsmax, quantize4bit, type Quantized4bit } from './quantize_4bit';
import { casePacked, caseValues, loadQuantFixture } from '../../test/fixtures/quant/quant_fixture';

/** Half the largest gap between adjacent (sorted) codes of a table. */
function halfLargestGap(table: Float32Array): number {
  const sorted = Array.from(table).sort((a, b) => a - b);
  let largest = 0;
  for (let index = 1; index < sorted.length; index += 1) {
    largest = Math.max(largest, (sorted[index] ?? 0) - (sorted[index - 1] ?? 0));
  }
  return largest / 2;
}

function normalValues(length: number, seed: number, scale: number): Float32Array {
  let state = seed;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  const out = new Float32Array(length);
  for (let index = 0; index < length; index += 1) {
    out[index] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next()) * scale;
  }
  return out;
}

describe('quantize4bit / dequantize4bit against the golden reference (tools/golden/quant4bit.py)', () => {
  const fixture = loadQuantFixture();
  it.each(fixture.cases.map((fixtureCase) => [fixtureCase.name, fixtureCase] as const))('%s', (_name, fixtureCase) => {
    const values = caseValues(fixtureCase);
    const quantized = quantize4bit(values, {
      quantType: fixtureCase.quantType,
      blockSize: fixtureCase.blockSize,
      doubleQuant: fixtureCase.doubleQuant,
    });
    expect(quantized.length).toBe(fixtureCase.length);
    expect(Buffer.from(quantized.packed).equals(Buffer.from(casePacked(fixtureCase)))).toBe(true);
    expect(Array.from(quantized.absmax)).toEqual(fixtureCase.absmax);
    if (fixtureCase.doubleQuant) {
      if (!quantized.doubleQuant) throw new Error('expected double quantization');
      expect(quantized.absmaxOffset).toBe(fixtureCase.absmaxOffset);
      expect(Array.from(quantized.absmaxQuantized)).toEqual(fixtureCase.absmaxQuantized);
      expect(Array.from(quantized.absmaxScale)).toEqual(fixtureCase.absmaxScale);
    } else {
      expect(quantized.doubleQuant).toBe(false);
    }
    const dequantized = dequantize4bit(quantized);
    if (fixtureCase.dequantized !== undefined) {
      fixtureCase.dequantized.forEach((expected, index) => {
        const actual = dequantized[index] ?? NaN;
        expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-7 * Math.abs(expected));
      });
    } else {
      let sum = 0;
      for (const value of dequantized) sum += value;
      expect(sum).toBeCloseTo(fixtureCase.dequantizedSum ?? NaN, 6);
    }
  });
});

describe('quantize4bit behaviour', () => {
  it.each([
    ['nf4', false, NF4_CODE],
    ['fp4', false, FP4_CODE],
    ['nf4', true, NF4_CODE],
    ['fp4', true, FP4_CODE],
  ] as const)(
    'round trip of %s (double quant %s) stays within absmax x half the largest code gap',
    (quantType, doubleQuant, table) => {
      const values = normalValues(64 * 40 + 23, 7, 0.3);
      const quantized = quantize4bit(values, { quantType, doubleQuant });
      const absmax = effectiveAbsmax(quantized);
      const dequantized = dequantize4bit(quantized);
      const bound = halfLargestGap(table);
      for (let index = 0; index < values.length; index += 1) {
        const block = Math.floor(index / 64);
        let exact = 0;
        for (let other = block * 64; other < Math.min(values.length, (block + 1) * 64); other += 1) {
          exact = Math.max(exact, Math.abs(values[other] ?? 0));
        }
        // with double quantization the block scale itself carries the nested 8-bit error on top
        const slack = doubleQuant ? Math.abs((absmax[block] ?? 0) - exact) : 0;
        expect(Math.abs((values[index] ?? 0) - (dequantized[index] ?? 0))).toBeLessThanOrEqual(
          exact * bound * (1 + 1e-6) + slack + 1e-12
        );
      }
    }
  );

  it('packs the first element into the high nibble and pads an odd length with the code of 0', () => {
    const nf4 = quantize4bit(new Float32Array([1, -1, 0]), {
      quantType: 'nf4',
    });
    expect(Array.from(nf4.packed)).toEqual([0xf0, 0x77]); // 0 is NF4 code 7, the pad too
    const fp4 = quantize4bit(new Float32Array([-1, 0.5, 0.25]), {
      quantType: 'fp4',
    });
    expect(Array.from(fp4.packed)).toEqual([0xb5, 0x70]); // -12/12 = 0b1011, 6/12 = 0b0101, 3/12 = 0b0111, pad 0
    expect(Array.from(dequantize4bit(fp4))).toEqual([-1, 0.5, 0.25]);
  });

  it('gives zeros back for an all-zero block (absmax 0, no NaN), as bnb does', () => {
    const values = new Float32Array(64 + 10);
    values[70] = 2;
    for (const quantType of ['nf4', 'fp4'] as const) {
      for (const doubleQuant of [false, true]) {
        const quantized = quantize4bit(values, { quantType, doubleQuant });
        const dequantized = dequantize4bit(quantized);
        // 0 * (1 / 0) = NaN fails every threshold: code 0 (NF4 -1.0, FP4 0.0)
        expect(quantized.packed.slice(0, 32).every((byte) => byte === 0)).toBe(true);
        expect(dequantized.every((value) => Number.isFinite(value))).toBe(true);
        expect(dequantized[70]).toBeCloseTo(2, 1);
        if (!doubleQuant || quantType === 'fp4') {
          expect(dequantized.slice(0, 64).every((value) => value === 0)).toBe(true);
        } else {
          // bnb quirk kept: nested quantization reconstructs absmax 0 only approximately, so NF4's code 0 (-1.0)
          // comes back as -reconstructed absmax, a small number next to the other block's scale
          const reconstructed = quantized.absmax[0] ?? NaN;
          expect(Math.abs(reconstructed)).toBeLessThan(0.01);
          expect(dequantized.slice(0, 64).every((value) => value === -reconstructed)).toBe(true);
        }
      }
    }
    const zeros = quantize4bit(new Float32Array(64), { quantType: 'nf4' });
    expect(zeros.absmax[0]).toBe(0);
    expect(dequantize4bit(zeros).every((value) => value === 0)).toBe(true); // NF4 gives -1.0 * 0 = -0
  });

  it('handles a length that is not a multiple of the block size', () => {
    const values = normalValues(200, 3, 1);
    const quantized = quantize4bit(values, { blockSize: 128 });
    expect(quantized.absmax.length).toBe(2);
    expect(quantized.packed.length).toBe(100);
    expect(dequantize4bit(quantized).length).toBe(200);
  });

  it('does not modify the input and returns an independent result', () => {
    const values = normalValues(130, 5, 1);
    const copy = values.slice();
    quantize4bit(values, { doubleQuant: true });
    expect(values).toEqual(copy);
  });

  it('rejects NaN and infinite inputs with a ConfigError naming the index', () => {
    const values = new Float32Array(100);
    values[37] = NaN;
    values[81] = -Infinity;
    expect(() => quantize4bit(values)).toThrow(ConfigError);
    expect(() => quantize4bit(values)).toThrow(/values\[37\] is NaN.*values\[81\] is -Infinity/);
  });

  it('collects every bad option into one ConfigError', () => {
    let error: unknown;
    try {
      quantize4bit(new Float32Array(4), {
        quantType: 'int4' as never,
        blockSize: 100,
        doubleQuant: 'yes' as never,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('stores the nested absmax state in bnb layout (blocks of 256, dynamic map, float32 offset)', () => {
    const values = normalValues(64 * 300, 11, 1);
    const quantized: Quantized4bit = quantize4bit(values, {
      doubleQuant: true,
    });
    if (!quantized.doubleQuant) throw new Error('expected double quantization');
    expect(quantized.absmaxQuantized.length).toBe(300);
    expect(quantized.absmaxScale.length).toBe(2);
    expect(quantized.absmaxCode.length).toBe(256);
    expect(Math.fround(quantized.absmaxOffset)).toBe(quantized.absmaxOffset);
    const plain = quantize4bit(values);
    expect(quantized.packed).toEqual(plain.packed); // nesting only touches the absmax
    for (let block = 0; block < 300; block += 1) {
      expect(Math.abs((quantized.absmax[block] ?? 0) - (plain.absmax[block] ?? 0))).toBeLessThan(0.02);
    }
  });
});
