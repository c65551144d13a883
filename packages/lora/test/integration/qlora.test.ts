// QLoRA end to end on tiny models: 4-bit frozen base (quantizeModel) + float32 LoRA adapters (applyLora).
import * as tf from '@tensorflow/tfjs';
import {
  AdamW,
  CausalLM,
  createCausalLM,
  Linear,
  parameterSpecs,
  resolveModelConfig,
  tokenLogProbsFromLogits,
  type LinearLayer,
  type ModelConfigOptions,
} from '@rlhfjs/core';
import { applyLora, LoraLinear, Linear4bit, quantizeModel, setLoraTraining, withAdaptersDisabled } from '../../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SMALL = { modelType: 'llama', vocabSize: 64, hiddenSize: 32, numLayers: 2, numHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: false } as const;

function logits(model: CausalLM, ids: number[][]): Float32Array {
  return tf.tidy(() => model.forward({ inputIds: tf.tensor2d(ids, undefined, 'int32') }).logits?.dataSync() as Float32Array);
}

function maxAbs(values: Float32Array): number {
  return values.reduce((worst, value) => Math.max(worst, Math.abs(value)), 0);
}

/** Mean next-token negative log-likelihood of `ids` [B, T]. */
function nextTokenLoss(model: CausalLM, ids: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tokenLogProbsFromLogits(model.forward({ inputIds: ids }).logits as tf.Tensor3D, ids))) as tf.Scalar);
}

describe('QLoRA', () => {
  const ids = [
    [3, 14, 15, 9, 26, 5, 35, 8],
    [9, 7, 9, 3, 23, 8, 46, 2],
  ];

  it('runs forward on a 4-bit base close to float32, trains only the adapters, and lowers the loss', () => {
    const model = createCausalLM(SMALL, { seed: 21 });
    try {
      const float32 = logits(model, ids);
      quantizeModel(model, { quantType: 'nf4', blockSize: 64, doubleQuant: true });
      const quantized = logits(model, ids);
      const difference = maxAbs(quantized.map((value, i) => value - (float32[i] as number)));
      console.log(`QLoRA: max |logit(nf4) − logit(f32)| = ${difference.toExponential(3)} (max |logit| ${maxAbs(float32).toExponential(3)})`);
      expect(difference).toBeGreaterThan(0);
      // NF4 keeps ~3 significant bits per weight: on this tiny random model (logits ~0.4) that moves logits by ~10%;
      // a wrong code table, nibble order or absmax would move them by the logits' own scale or more
      expect(difference).toBeLessThan(0.2 * maxAbs(float32));

      applyLora(model, { r: 4, alpha: 8, targetModules: 'all-linear', seed: 1 });
      const q = model.linear('model.layers.0.self_attn.q_proj') as LoraLinear;
      expect(q).toBeInstanceOf(LoraLinear);
      expect(q.base).toBeInstanceOf(Linear4bit);
      expect(logits(model, ids)).toEqual(quantized); // B = 0
      const trainable = model.trainableParameters();
      expect([...trainable.keys()].every((name) => /\.lora_[AB]\.default\.weight$/.test(name))).toBe(true);
      expect(trainable.size).toBe(28);

      const byVariable = new Map([...trainable].map(([name, variable]) => [variable.name, name]));
      const input = tf.tensor2d(ids, undefined, 'int32');
      const optimizer = new AdamW({ weightDecay: 0 });
      const losses: number[] = [];
      setLoraTraining(model, true);
      for (let step = 0; step < 12; step++) {
        const { value, grads } = tf.variableGrads(() => nextTokenLoss(model, input));
        if (step === 0) expect(Object.keys(grads).map((name) => byVariable.get(name)).sort()).toEqual([...trainable.keys()].sort());
        const named: tf.NamedTensorMap = {};
        for (const [variableName, gradient] of Object.entries(grads)) named[byVariable.get(variableName) as string] = gradient;
        optimizer.step(trainable, named, 1e-2);
        losses.push(value.dataSync()[0] as number);
        tf.dispose([value, ...Object.values(grads)]);
      }
      optimizer.dispose();
      input.dispose();
      console.log(`QLoRA: loss ${losses[0]?.toFixed(4)} → ${losses[losses.length - 1]?.toFixed(4)} over ${losses.length} AdamW steps`);
      expect(losses[losses.length - 1]).toBeLessThan((losses[0] as number) - 0.3);
      setLoraTraining(model, false);
      expect(withAdaptersDisabled(model, () => logits(model, ids))).toEqual(quantized); // the base never moved
    } finally {
      model.dispose();
    }
  });

  it('stores linear weights of the reference width in about 1/8 of their float32 bytes (nf4, double quant)', () => {
    // The reference config (4 layers, d_model 256, 4 heads, vocab 1024) with 1 layer to keep the test fast: the
    // ratio is per weight matrix, so it is the same for 4 layers. Weights come from a cheap PRNG (not the model init).
    const model = modelWithRandomWeights({ modelType: 'llama', vocabSize: 1024, hiddenSize: 256, numLayers: 1, numHeads: 4, tieWordEmbeddings: false });
    try {
      const before = tf.memory().numBytes;
      const result = quantizeModel(model, { quantType: 'nf4', blockSize: 64, doubleQuant: true });
      const after = tf.memory().numBytes;
      // tf.memory() moves by exactly the float32 weights out and the 4-bit state in.
      expect(before - after).toBe(result.float32WeightBytes - result.quantizedWeightBytes);
      const ratio = result.quantizedWeightBytes / result.float32WeightBytes;
      console.log(
        `QLoRA memory (d 256, vocab 1024, 1 layer, nf4/64 + double quant): linear weights ${result.float32WeightBytes} B f32 → ${result.quantizedWeightBytes} B (ratio ${ratio.toFixed(4)}); whole model ${before} → ${after} B (ratio ${(after / before).toFixed(4)})`,
      );
      // Per matrix of n values in blocks of 64: n/2 bytes of codes and n/64 absmax codes (both packed in int32
      // words), one float32 scale per 256 blocks and the 256-entry float32 nested code table.
      const expected = result.modules
        .map((name) => {
          const { inFeatures, outFeatures } = model.linear(name);
          const n = inFeatures * outFeatures;
          const blocks = Math.ceil(n / 64);
          return Math.ceil(n / 2 / 4) * 4 + Math.ceil(blocks / 4) * 4 + Math.ceil(blocks / 256) * 4 + 256 * 4;
        })
        .reduce((a, b) => a + b, 0);
      expect(result.quantizedWeightBytes).toBe(expected);
      expect(ratio).toBeLessThan(0.135);
    } finally {
      model.dispose();
    }
  });
});

/** A CausalLM with uniform(−0.05, 0.05) weights from a linear congruential generator (createCausalLM's normal init is slow on cpu). */
function modelWithRandomWeights(options: ModelConfigOptions): CausalLM {
  const config = resolveModelConfig(options);
  let state = 12345;
  const random = (size: number) => {
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      values[i] = (state / 2 ** 32 - 0.5) * 0.1;
    }
    return values;
  };
  const linears = new Map<string, LinearLayer>();
  const tensors = new Map<string, tf.Variable>();
  for (const spec of parameterSpecs(config)) {
    if (spec.kind === 'tensor') {
      tensors.set(spec.name, tf.variable(tf.tensor(random(spec.shape.reduce((a, b) => a * b, 1)), [...spec.shape])));
    } else {
      const weight = tf.variable(tf.tensor2d(random(spec.inFeatures * spec.outFeatures), [spec.inFeatures, spec.outFeatures]));
      linears.set(spec.module, new Linear(weight, spec.bias ? tf.variable(tf.zeros([spec.outFeatures])) : null, spec.layout));
    }
  }
  return new CausalLM(config, linears, tensors);
}
