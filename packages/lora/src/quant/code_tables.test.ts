import { FP4_CODE, NF4_CODE, codeTableFor, createDynamicMap } from './code_tables';
import { quantizeDynamicValue, quantizeFp4Value, quantizeNf4Value } from './decision_trees';
import { loadQuantFixture } from '../../test/fixtures/quant/quant_fixture';

const f = Math.fround;

describe('4-bit code tables (bitsandbytes get_4bit_type)', () => {
  it('pins the 16 NF4 values', () => {
    const expected = [
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
      -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
      0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ].map(f);
    expect(Array.from(NF4_CODE)).toEqual(expected);
    for (let index = 1; index < 16; index += 1) expect(NF4_CODE[index]).toBeGreaterThan(NF4_CODE[index - 1] ?? 0);
  });

  it('pins the 16 FP4 values (bit 3 = sign, magnitudes / 12) including -0 at code 8', () => {
    const expected = [
      0, 0.005208333488553762, 0.6666666865348816, 1, 0.3333333432674408, 0.5, 0.1666666716337204, 0.25,
    ].map(f);
    for (let code = 0; code < 8; code += 1) {
      expect(FP4_CODE[code]).toBe(expected[code]);
      expect(Object.is(FP4_CODE[code + 8], -(expected[code] ?? NaN))).toBe(true);
    }
  });

  it('equals the tables of the golden reference and hands out copies', () => {
    const fixture = loadQuantFixture();
    expect(Array.from(NF4_CODE)).toEqual(fixture.nf4Code);
    expect(Array.from(FP4_CODE)).toEqual(fixture.fp4Code);
    const copy = codeTableFor('nf4');
    copy[0] = 5;
    expect(NF4_CODE[0]).toBe(-1);
  });

  it('builds bnb create_dynamic_map() bit-exactly (torch float32 linspace rounding included)', () => {
    const map = createDynamicMap();
    expect(map.length).toBe(256);
    expect(Array.from(map)).toEqual(loadQuantFixture().dynamicMap);
    expect(map[0]).toBe(f(-0.99296875));
    expect(map[255]).toBe(1);
  });
});

describe('bnb decision trees', () => {
  it('NF4: values on a threshold go to the lower code, one float32 step above to the upper', () => {
    for (let code = 0; code < 15; code += 1) {
      const threshold = f(((NF4_CODE[code] ?? 0) + (NF4_CODE[code + 1] ?? 0)) / 2);
      const above = new Float32Array([threshold]);
      const bits = new Int32Array(above.buffer);
      bits[0] = (bits[0] ?? 0) + (threshold >= 0 ? 1 : -1); // next float32 towards +inf
      expect(quantizeNf4Value(threshold)).toBe(code);
      expect(quantizeNf4Value(above[0] ?? 0)).toBe(code + 1);
      expect(quantizeNf4Value(NF4_CODE[code] ?? 0)).toBe(code);
    }
    expect(quantizeNf4Value(1)).toBe(15);
    expect(quantizeNf4Value(NaN)).toBe(0);
  });

  it('FP4: picks the nearest magnitude away from thresholds, keeps the sign bit, uses the literal 0.583333f', () => {
    for (let code = 0; code < 16; code += 1) {
      const value = FP4_CODE[code] ?? 0;
      if (code === 8) expect(quantizeFp4Value(value)).toBe(0); // -0 is not < 0
      else expect(quantizeFp4Value(value)).toBe(code);
    }
    expect(quantizeFp4Value(f(0.583333))).toBe(0b0101); // on the literal: lower (6/12)
    expect(quantizeFp4Value(f(0.5833331))).toBe(0b0010); // below 7/12 but above the literal: 8/12
    expect(quantizeFp4Value(-0.9)).toBe(0b1011);
    expect(quantizeFp4Value(NaN)).toBe(0);
  });

  it('8-bit dynamic quantizer returns the nearest code for values between codes', () => {
    const map = createDynamicMap();
    for (const x of [-1, -0.5, -0.01, -1e-7, 0, 1e-5, 0.3, 0.77, 0.999, 1]) {
      const xf = f(x);
      const code = quantizeDynamicValue(map, xf);
      let best = 0;
      for (let index = 1; index < 256; index += 1) {
        if (Math.abs((map[index] ?? 0) - xf) < Math.abs((map[best] ?? 0) - xf)) best = index;
      }
      expect(Math.abs((map[code] ?? 0) - xf)).toBeCloseTo(Math.abs((map[best] ?? 0) - xf), 9);
    }
  });
});
