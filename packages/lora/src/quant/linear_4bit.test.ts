import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import { Linear4bit } from './linear_4bit';
import { dequantize4bit, quantize4bit } from './quantize_4bit';

function seededValues(length: number, seed: number, scale: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(length);
  for (let index = 0; index < length; index += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[index] = (state / 4294967296 - 0.5) * scale;
  }
  return out;
}

/** [in, out] row-major → [out, in] row-major. */
function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row += 1) {
    for (let column = 0; column < columns; column += 1) out[column * rows + row] = values[row * columns + column] ?? 0;
  }
  return out;
}

describe('Linear4bit', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([
    ['nf4', false, true],
    ['fp4', false, true],
    ['nf4', true, true],
    ['nf4', true, false],
  ] as const)(
    '%s (double quant %s, keep buffer %s) equals a float32 linear with the dequantized weight',
    (quantType, doubleQuant, keepDecodeBuffer) => {
      const inFeatures = 48;
      const outFeatures = 20;
      const weight = seededValues(inFeatures * outFeatures, 1, 0.2); // [in, out]
      const bias = seededValues(outFeatures, 2, 1);
      const layer = Linear4bit.fromWeight(weight, inFeatures, outFeatures, bias, {
        quantType,
        doubleQuant,
        keepDecodeBuffer,
      });
      // reference: bnb quantizes the HF [out, in] weight; dequantize it independently of the layer
      const hfDequantized = dequantize4bit(
        quantize4bit(transpose(weight, inFeatures, outFeatures), { quantType, doubleQuant })
      );
      const dequantizedWeight = transpose(hfDequantized, outFeatures, inFeatures); // [in, out]
      const x = tf.tensor2d(seededValues(5 * inFeatures, 3, 2), [5, inFeatures]); // [N, in]
      const expected = tf.tidy(() =>
        tf.add(tf.matMul(x, tf.tensor2d(dequantizedWeight, [inFeatures, outFeatures])), tf.tensor1d(bias))
      );
      for (let call = 0; call < 2; call += 1) {
        const output = layer.forward(x);
        expect(output.shape).toEqual([5, outFeatures]);
        const actual = output.dataSync();
        const reference = expected.dataSync();
        for (let index = 0; index < actual.length; index += 1) {
          expect(Math.abs((actual[index] ?? 0) - (reference[index] ?? 0))).toBeLessThan(1e-5);
        }
        output.dispose();
      }
      // and it is a real approximation of the float32 layer (the quantization did something sensible)
      const exact = tf.tidy(() =>
        tf.add(tf.matMul(x, tf.tensor2d(weight, [inFeatures, outFeatures])), tf.tensor1d(bias))
      );
      const maxError = tf.tidy(() => tf.max(tf.abs(tf.sub(exact, expected))).dataSync()[0] ?? NaN);
      expect(maxError).toBeLessThan(0.1);
      expect(maxError).toBeGreaterThan(0);
      tf.dispose([x, expected, exact]);
      layer.dispose();
    }
  );

  it('stores exactly the bytes bnb stores for the HF [out, in] weight', () => {
    const weight = seededValues(32 * 12, 4, 1); // [in=32, out=12]
    const layer = Linear4bit.fromWeight(weight, 32, 12, null, { doubleQuant: true });
    const reference = quantize4bit(transpose(weight, 32, 12), { doubleQuant: true });
    const state = layer.quantizedState();
    expect(state.packed).toEqual(reference.packed);
    expect(state.absmax).toEqual(reference.absmax);
    if (!state.doubleQuant || !reference.doubleQuant) throw new Error('expected double quantization');
    expect(state.absmaxQuantized).toEqual(reference.absmaxQuantized);
    expect(state.absmaxOffset).toBe(reference.absmaxOffset);
    layer.dispose();
  });

  it('exposes only the bias as a parameter', () => {
    const withBias = Linear4bit.fromWeight(seededValues(64, 5, 1), 8, 8, new Float32Array(8).fill(0.5));
    expect([...withBias.parameters().keys()]).toEqual(['bias']);
    expect(withBias.kind).toBe('linear4bit');
    const without = Linear4bit.fromWeight(seededValues(64, 5, 1), 8, 8, null);
    expect(without.parameters().size).toBe(0);
    withBias.dispose();
    without.dispose();
  });

  it('leaks no tensors across forward calls and frees everything on dispose', () => {
    const before = tf.memory().numTensors;
    const layer = Linear4bit.fromWeight(seededValues(64 * 16, 6, 1), 64, 16, seededValues(16, 7, 1), {
      doubleQuant: true,
    });
    const x = tf.tensor2d(seededValues(3 * 64, 8, 1), [3, 64]);
    layer.forward(x).dispose();
    const afterFirst = tf.memory().numTensors;
    for (let call = 0; call < 3; call += 1) layer.forward(x).dispose();
    expect(tf.memory().numTensors).toBe(afterFirst);
    x.dispose();
    layer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the gradient with respect to x through the dequantized weight (usable under LoRA)', () => {
    const layer = Linear4bit.fromWeight(seededValues(16 * 4, 9, 1), 16, 4, null);
    const x = tf.tensor2d(seededValues(2 * 16, 10, 1), [2, 16]);
    const gradient = tf.grad((input: tf.Tensor) => tf.sum(layer.forward(input as tf.Tensor2D)))(x); // [2, 16]
    const state = dequantize4bit(layer.quantizedState()); // [out, in]
    // d sum(x W) / dx[n, i] = sum_o W[i, o] = sum_o W_hf[o, i]
    const values = gradient.dataSync();
    for (let column = 0; column < 16; column += 1) {
      let rowSum = 0;
      for (let row = 0; row < 4; row += 1) rowSum += state[row * 16 + column] ?? 0;
      expect(values[column]).toBeCloseTo(rowSum, 5);
      expect(values[16 + column]).toBeCloseTo(rowSum, 5);
    }
    tf.dispose([x, gradient]);
    layer.dispose();
  });

  it('keeps a [256, 768] weight in at most 0.16 of its float32 bytes (less with double quantization)', () => {
    const inFeatures = 256;
    const outFeatures = 768;
    const float32Bytes = inFeatures * outFeatures * 4;
    const weight = seededValues(inFeatures * outFeatures, 11, 0.1);
    const ratios: Record<string, number> = {};
    for (const doubleQuant of [false, true]) {
      const before = tf.memory().numBytes;
      const layer = Linear4bit.fromWeight(weight, inFeatures, outFeatures, null, { doubleQuant });
      const held = tf.memory().numBytes - before;
      expect(held).toBe(layer.bytesOfQuantizedWeights());
      ratios[doubleQuant ? 'double' : 'plain'] = held / float32Bytes;
      layer.dispose();
    }
    expect(ratios['plain']).toBeLessThanOrEqual(0.16);
    expect(ratios['double']).toBeLessThan(ratios['plain'] ?? 0);
    // 4 bits per weight plus 32 bits per 64-block (plain) or ~8 bits per block + 1 KiB map (double)
    expect(ratios['plain']).toBeCloseTo((0.5 + 4 / 64) / 4, 6);
  });

  it('rejects bad shapes and options', () => {
    expect(() => Linear4bit.fromWeight(new Float32Array(10), 4, 4, null)).toThrow(ConfigError);
    expect(() => Linear4bit.fromWeight(new Float32Array(16), 4, 4, new Float32Array(3))).toThrow(ConfigError);
    expect(() => Linear4bit.fromWeight(new Float32Array(16), 4, 4, null, { blockSize: 7 })).toThrow(ConfigError);
    const layer = Linear4bit.fromWeight(new Float32Array(16), 4, 4, null);
    const x = tf.zeros([2, 5]) as tf.Tensor2D;
    expect(() => layer.forward(x)).toThrow(ShapeError);
    x.dispose();
    layer.dispose();
    expect(() => layer.parameters()).toThrow(ConfigError);
  });
});
