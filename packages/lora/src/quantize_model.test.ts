import * as tf from '@tensorflow/tfjs';
import { ConfigError, createCausalLM, Linear, type CausalLM } from '@rlhfjs/core';
import { applyLora, mergeAdapters } from './lora/lora_model';
import { quantizeModel } from './quantize_model';
import { Linear4bit } from './quant/linear_4bit';
import { dequantize4bit, quantize4bit } from './quant/quantize_4bit';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const OPTIONS = { modelType: 'llama', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 2, tieWordEmbeddings: false } as const;
const IDS = [
  [1, 5, 9, 3, 7],
  [4, 4, 8, 30, 0],
];

function logits(model: CausalLM): Float32Array {
  return tf.tidy(() => model.forward({ inputIds: tf.tensor2d(IDS, undefined, 'int32') }).logits?.dataSync() as Float32Array);
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  a.forEach((value, i) => {
    worst = Math.max(worst, Math.abs(value - (b[i] as number)));
  });
  return worst;
}

/** [in, out] → [out, in] row-major. */
function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = values[r * columns + c] as number;
  return out;
}

describe('quantizeModel', () => {
  it('replaces every linear but lm_head by a Linear4bit that computes with the dequantized weights', () => {
    const model = createCausalLM(OPTIONS, { seed: 11 });
    const reference = createCausalLM(OPTIONS, { seed: 11 });
    try {
      // Independent expectation: the same model with each weight replaced by dequantize(quantize(W)) in HF [out, in] order.
      for (const name of reference.linearNames()) {
        if (name === 'lm_head') continue;
        const layer = reference.linear(name) as Linear;
        const hf = transpose(layer.weight.dataSync() as Float32Array, layer.inFeatures, layer.outFeatures); // [out, in]
        const roundTrip = dequantize4bit(quantize4bit(hf, { quantType: 'nf4', blockSize: 64 }));
        layer.weight.assign(tf.tensor2d(transpose(roundTrip, layer.outFeatures, layer.inFeatures), [layer.inFeatures, layer.outFeatures]));
      }
      const float32 = logits(model);
      const result = quantizeModel(model);
      expect(result.modules).toHaveLength(14);
      expect(result.modules).not.toContain('lm_head');
      expect(model.linear('lm_head')).toBeInstanceOf(Linear);
      expect(model.linear('model.layers.1.mlp.down_proj')).toBeInstanceOf(Linear4bit);
      const quantized = logits(model);
      expect(maxDifference(quantized, logits(reference))).toBeLessThan(1e-5);
      expect(maxDifference(quantized, float32)).toBeGreaterThan(0); // it did quantize
      expect(result.quantizedWeightBytes / result.float32WeightBytes).toBeCloseTo((0.5 + 4 / 64) / 4, 3);
    } finally {
      model.dispose();
      reference.dispose();
    }
  });

  it('honours skipModules and refuses LoRA-wrapped modules and bad options', () => {
    const model = createCausalLM(OPTIONS, { seed: 1 });
    try {
      expect(() => quantizeModel(model, { blockSize: 63, quantType: 'int4' as never })).toThrow(ConfigError);
      const result = quantizeModel(model, { skipModules: ['lm_head', 'down_proj'], quantType: 'fp4', doubleQuant: true });
      expect(result.modules).toHaveLength(12);
      expect(model.linear('model.layers.0.mlp.down_proj')).toBeInstanceOf(Linear);
      applyLora(model, { targetModules: ['q_proj'] });
      expect(() => mergeAdapters(model)).toThrow(/cannot merge into a base layer of kind "linear4bit"/);
      const other = createCausalLM(OPTIONS, { seed: 1 });
      applyLora(other, { targetModules: ['q_proj'] });
      expect(() => quantizeModel(other)).toThrow(/before applyLora/);
      other.dispose();
    } finally {
      model.dispose();
    }
  });
});
