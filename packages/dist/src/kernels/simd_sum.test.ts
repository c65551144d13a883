import { finishReduce, reduceInto } from '../group/reduce_op';
import { SimdSum, SIMD_LANDING_BYTES } from './simd_sum';
import { simdModuleBytes } from './wasm_module';

/** Values that exercise rounding, signed zeros, subnormals, infinities and NaN. */
function awkward(length: number, seed: number): number[] {
  const special = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-40, 3.4e38, -3.4e38, 1 / 3, 1e-7];
  let state = seed;
  return Array.from({ length }, (_, index) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    if (index % 97 === 13) return special[state % special.length] as number;
    return ((state / 2147483648) * 2 - 1) * 10 ** ((state % 9) - 4);
  });
}

/** The reference: JS's scalar arithmetic, rounded to the element type (an independent computation). */
function scalarSum(target: ArrayLike<number>, offset: number, incoming: ArrayLike<number>, round: (value: number) => number): number[] {
  const out = Array.from(target);
  for (let index = 0; index < incoming.length; index += 1) out[offset + index] = round((out[offset + index] as number) + (incoming[index] as number));
  return out;
}

function sameBits(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let index = 0; index < actual.length; index += 1) {
    const a = actual[index] as number;
    const b = expected[index] as number;
    if (Number.isNaN(b)) expect(Number.isNaN(a)).toBe(true);
    else if (!Object.is(a, b)) throw new Error(`element ${index}: ${a} !== ${b}`);
  }
}

describe('WebAssembly SIMD sums for the ring all-reduce', () => {
  it('the hand-assembled module validates and this runtime has SIMD', () => {
    const runtime = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(runtime.validate(simdModuleBytes(1))).toBe(true);
    expect(SimdSum.create()).toBeDefined();
  });

  it.each([
    ['Float32', Float32Array, Math.fround],
    ['Float64', Float64Array, (value: number) => value],
  ] as const)('%s: reduceInto gives the scalar loop’s bits (odd lengths, offsets, several blocks)', (_name, Type, round) => {
    for (const [length, offset] of [
      [64, 0],
      [67, 5],
      [1001, 3],
      [70_003, 17], // several 256 KiB blocks for Float64, one-plus for Float32
      [200_001, 1],
    ] as const) {
      const target = new Type(awkward(length + offset + 9, length));
      const incoming = new Type(awkward(length, offset + 7));
      const expected = scalarSum(target, offset, incoming, round);
      reduceInto(target, offset, incoming, 'sum');
      sameBits(target, expected);
    }
  });

  it('incoming data in an instance’s landing area is summed in place, with the same bits', () => {
    const simd = SimdSum.create() as SimdSum;
    const length = (SIMD_LANDING_BYTES - 16) / 4 - 3; // nearly the whole landing area, not a multiple of 4
    const incoming = new Float32Array(simd.landing.buffer as ArrayBuffer, simd.landing.byteOffset + 4, length); // 4 bytes in: unaligned for v128
    incoming.set(awkward(length, 3));
    const target = new Float32Array(awkward(length + 2, 11));
    const expected = scalarSum(target, 2, incoming, Math.fround);
    expect(SimdSum.for(incoming)).toBe(simd);
    reduceInto(target, 2, incoming, 'sum');
    sameBits(target, expected);
    // the landing data is left as it was (only the target changes)
    sameBits(incoming, new Float32Array(awkward(length, 3)));
  });

  it('short arrays and max/min keep the scalar path and its results', () => {
    const target = new Float32Array([1, 5, NaN, -2]);
    reduceInto(target, 0, new Float32Array([2, 3, 1, NaN]), 'max');
    sameBits(target, [2, 5, NaN, NaN]); // NaN on either side wins
    const small = new Float32Array([0.1, 0.2, 0.3]);
    reduceInto(small, 1, new Float32Array([0.7, 0.9]), 'sum');
    sameBits(small, [Math.fround(0.1), Math.fround(Math.fround(0.2) + Math.fround(0.7)), Math.fround(Math.fround(0.3) + Math.fround(0.9))]);
  });

  it.each([
    ['Float32', Float32Array, Math.fround],
    ['Float64', Float64Array, (value: number) => value],
  ] as const)('%s: the mean’s division matches the scalar division', (_name, Type, round) => {
    const values = awkward(150_007, 5);
    const target = new Type(values);
    finishReduce(target, 3, 150_000, 'mean', 3);
    const expected = values.map((value, index) => (index >= 3 && index < 150_000 ? round(round(value) / 3) : round(value)));
    sameBits(target, expected);
    const untouched = new Type(values);
    finishReduce(untouched, 0, untouched.length, 'sum', 3); // sum: nothing to divide
    sameBits(untouched, new Type(values));
  });
});

describe('arrays allocated beside a landing area', () => {
  it.each([
    ['float32', Math.fround],
    ['float64', (value: number) => value],
  ] as const)('%s: zero-filled, summed in place from the landing area and divided in place, with the scalar bits', (type, round) => {
    const length = 100_003;
    const array = SimdSum.allocate(length, type) as Float32Array | Float64Array;
    expect(array.length).toBe(length);
    expect(array.every((entry) => entry === 0)).toBe(true);
    const simd = SimdSum.owning(array) as SimdSum;
    expect(simd).toBeDefined();
    array.set(awkward(length, 21));
    // a "read" of 3001 elements in the landing area, summed into the array at element 500
    const Type = type === 'float32' ? Float32Array : Float64Array;
    const incoming = new Type(simd.landing.buffer as ArrayBuffer, simd.landing.byteOffset, 3001);
    incoming.set(awkward(3001, 8));
    const expected = scalarSum(array, 500, incoming, round);
    reduceInto(array, 500, incoming, 'sum');
    sameBits(array, expected);
    const before = Array.from(array);
    finishReduce(array, 7, 90_001, 'mean', 4);
    sameBits(array, before.map((value, index) => (index >= 7 && index < 90_001 ? round(value / 4) : value)));
  });

  it('another instance’s landing data or a plain array still sums correctly into an allocated array', () => {
    const array = SimdSum.allocate(5000, 'float32') as Float32Array;
    array.set(awkward(5000, 2));
    const other = SimdSum.create() as SimdSum;
    const fromOther = new Float32Array(other.landing.buffer as ArrayBuffer, other.landing.byteOffset, 4999);
    fromOther.set(awkward(4999, 4));
    const expected = scalarSum(array, 1, fromOther, Math.fround);
    reduceInto(array, 1, fromOther, 'sum');
    sameBits(array, expected);
    const plain = new Float32Array(awkward(5000, 6));
    const expectedPlain = scalarSum(array, 0, plain, Math.fround);
    reduceInto(array, 0, plain, 'sum');
    sameBits(array, expectedPlain);
  });
});

describe('the landing area of an allocated array', () => {
  it('has one holder at a time', () => {
    const simd = SimdSum.owning(SimdSum.allocate(1000, 'float32') as Float32Array) as SimdSum;
    const first = simd.claimLanding();
    expect(first).toBe(simd.landing);
    expect(simd.claimLanding()).toBeUndefined();
    simd.releaseLanding();
    expect(simd.claimLanding()).toBe(simd.landing);
  });
});
