import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { initBackend } from '../../src/backend/init_backend';
import { generate } from '../../src/generation/generate';
import { attentionBias, scaledDotProductAttention } from '../../src/model/attention';
import { loadCausalLM } from '../../src/model/model_factory';
import { describeIfNative } from './support/native_describe';

// Decoding on @rlhfjs/native (in-place KV cache writes, fused attention kernel for decode steps, matrix-vector
// products) against the cpu backend's portable path. CI builds the addon, so there a missing addon fails.
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'models');

const describeNative = describeIfNative('native decoding test');

describeNative('decoding on the native backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['gpt2', 'qwen2'])('%s: greedy generation (left-padded, cached) gives the cpu tokens and log-probs; numTensors flat', async (name) => {
    const prompts = { inputIds: [[5, 6, 7, 8], [0, 0, 9, 10]], attentionMask: [[1, 1, 1, 1], [0, 0, 1, 1]] };
    const options = { maxNewTokens: 10, doSample: false, stopTokenIds: [] };
    await tf.setBackend('cpu');
    const cpuModel = await loadCausalLM(path.join(FIXTURES, name));
    const expected = generate(cpuModel, prompts, options);
    cpuModel.dispose();
    await initBackend({ backend: 'native' });
    const model = await loadCausalLM(path.join(FIXTURES, name));
    generate(model, prompts, options);
    const before = tf.memory().numTensors;
    const actual = generate(model, prompts, options);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    expect(actual.completionIds).toEqual(expected.completionIds);
    actual.logProbs.forEach((row, b) => row.forEach((value, t) => expect(Math.abs(value - (expected.logProbs[b]?.[t] as number))).toBeLessThan(1e-4)));
  });

  it('the fused decode attention (one query, GQA) has the portable gradients', async () => {
    const program = (): Float32Array[] =>
      tf.tidy(() => {
        const q = tf.randomUniform([2, 4, 1, 8], -1, 1, 'float32', 1) as tf.Tensor4D; // [B, H, 1, d]
        const k = tf.randomUniform([2, 2, 6, 8], -1, 1, 'float32', 2) as tf.Tensor4D; // [B, Hkv, C, d]
        const v = tf.randomUniform([2, 2, 6, 8], -1, 1, 'float32', 3) as tf.Tensor4D;
        const bias = attentionBias(tf.tensor2d([[1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 0, 0]], [2, 6], 'int32'), 1, 3); // 4 of 6 positions filled
        const weights = tf.randomUniform([2, 4, 1, 8], -1, 1, 'float32', 4);
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias), weights)) as tf.Scalar;
        const { value, grads } = tf.valueAndGrads(f)([q, k, v]);
        return [value, ...grads].map((t) => Float32Array.from(t.dataSync()));
      });
    await tf.setBackend('cpu');
    const expected = program();
    await initBackend({ backend: 'native' });
    const actual = program();
    expected.forEach((values, i) => values.forEach((value, j) => expect(Math.abs((actual[i]?.[j] as number) - value)).toBeLessThan(1e-5)));
  });
});
