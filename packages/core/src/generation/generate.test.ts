import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { createCausalLM, loadCausalLM } from '../model/model_factory';
import { createRng } from '../data/rng';
import { generate } from './generate';
import { sampleToken } from './sampling';

const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures', 'models');

describe('generate', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['gpt2', 'llama', 'qwen2'])('%s: greedy with the KV cache equals greedy without it, token for token (left-padded batch)', async (name) => {
    const model = await loadCausalLM(path.join(FIXTURES, name));
    const prompts = { inputIds: [[5, 6, 7, 8], [0, 0, 9, 10]], attentionMask: [[1, 1, 1, 1], [0, 0, 1, 1]] };
    const options = { maxNewTokens: 12, doSample: false, stopTokenIds: [] };
    const cached = generate(model, prompts, { ...options, useCache: true });
    const uncached = generate(model, prompts, { ...options, useCache: false });
    expect(cached.completionIds).toEqual(uncached.completionIds);
    cached.logProbs.forEach((row, b) => row.forEach((value, t) => expect(value).toBeCloseTo(uncached.logProbs[b]?.[t] ?? Number.NaN, 4)));
    // the padded row generates what it generates alone, unpadded
    const alone = generate(model, { inputIds: [[9, 10]] }, { ...options, useCache: true });
    expect(alone.completionIds[0]).toEqual(cached.completionIds[1]);
    model.dispose();
  });

  it('stops rows at their stop token, pads after it, and is reproducible with a seed', () => {
    const model = createCausalLM({ modelType: 'llama', vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 64 }, { seed: 3 });
    const prompts = { inputIds: [[1, 2], [3, 4], [5, 6]] };
    const a = generate(model, prompts, { maxNewTokens: 20, seed: 7, stopTokenIds: [0], padTokenId: 7 });
    const b = generate(model, prompts, { maxNewTokens: 20, seed: 7, stopTokenIds: [0], padTokenId: 7 });
    expect(a.completionIds).toEqual(b.completionIds);
    for (let row = 0; row < 3; row++) {
      const ids = a.completionIds[row] as number[];
      const maskRow = a.completionMask[row] as number[];
      const stop = ids.indexOf(0);
      if (stop >= 0) {
        expect(a.finished[row]).toBe(true);
        expect(maskRow.slice(0, stop + 1).every((m) => m === 1)).toBe(true);
        expect(maskRow.slice(stop + 1).every((m) => m === 0)).toBe(true);
        expect(ids.slice(stop + 1).every((id) => id === 7)).toBe(true);
      } else {
        expect(maskRow.every((m) => m === 1)).toBe(true);
      }
    }
    const other = generate(model, prompts, { maxNewTokens: 20, seed: 8, stopTokenIds: [0] });
    expect(other.completionIds).not.toEqual(a.completionIds);
    model.dispose();
  });

  it('drops finished rows from the batch, and every row still generates what it generates alone', () => {
    const model = createCausalLM({ modelType: 'qwen2', vocabSize: 12, hiddenSize: 16, numLayers: 2, numHeads: 4, numKeyValueHeads: 2, maxPositions: 64 }, { seed: 5 });
    const prompts = { inputIds: [[1, 2, 3], [4, 5, 6], [7, 8, 9]] };
    const free = generate(model, prompts, { maxNewTokens: 8, doSample: false, stopTokenIds: [] });
    // stop on the token row 0 produces at step 2, so rows finish at different steps (or never)
    const stop = free.completionIds[0]?.[2] as number;
    const batchSizes: number[] = [];
    const forward = model.forward.bind(model);
    model.forward = (inputs) => {
      batchSizes.push(inputs.inputIds.shape[0]);
      return forward(inputs);
    };
    for (const useCache of [true, false]) {
      batchSizes.length = 0;
      const batched = generate(model, prompts, { maxNewTokens: 8, doSample: false, stopTokenIds: [stop], useCache });
      prompts.inputIds.forEach((row, b) => {
        const alone = generate(model, { inputIds: [row] }, { maxNewTokens: 8, doSample: false, stopTokenIds: [stop], useCache });
        const length = alone.completionIds[0]?.length as number; // alone, it ends at its stop token
        expect(batched.completionIds[b]?.slice(0, length)).toEqual(alone.completionIds[0]);
        expect(batched.completionMask[b]?.slice(0, length)).toEqual(alone.completionMask[0]);
        expect(batched.completionMask[b]?.slice(length).every((m) => m === 0)).toBe(true);
      });
      const firstStop = Math.min(...batched.completionIds.map((ids) => (ids.includes(stop) ? ids.indexOf(stop) : 99)));
      expect(firstStop).toBeLessThan(7);
      // the forward passes after the first stop see fewer rows
      expect(batchSizes[firstStop + 1]).toBeLessThan(3);
    }
    model.dispose();
  });

  it('leaves numTensors unchanged', () => {
    const model = createCausalLM({ modelType: 'gpt2', vocabSize: 16, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32 });
    generate(model, { inputIds: [[1, 2, 3]] }, { maxNewTokens: 4 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) generate(model, { inputIds: [[1, 2, 3], [4, 5, 6]] }, { maxNewTokens: 6, seed: i });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('sampleToken', () => {
  const logits = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);

  it('follows the distribution, and top-k / top-p restrict the support', () => {
    const rng = createRng(1);
    const counts = [0, 0, 0, 0];
    const draws = 20000;
    for (let i = 0; i < draws; i++) counts[sampleToken(logits, { doSample: true, temperature: 1, topK: 0, topP: 1 }, rng).token]! += 1;
    [0.5, 0.3, 0.15, 0.05].forEach((p, v) => expect(Math.abs((counts[v] as number) / draws - p)).toBeLessThan(0.015));
    for (let i = 0; i < 500; i++) {
      expect(sampleToken(logits, { doSample: true, temperature: 1, topK: 2, topP: 1 }, rng).token).toBeLessThan(2);
      // smallest set with mass ≥ 0.75 is {0, 1}
      expect(sampleToken(logits, { doSample: true, temperature: 1, topK: 0, topP: 0.75 }, rng).token).toBeLessThan(2);
    }
  });

  it('reports the log-prob at the temperature and picks the argmax when greedy', () => {
    const greedy = sampleToken(logits, { doSample: false, temperature: 1, topK: 0, topP: 1 }, createRng(0));
    expect(greedy.token).toBe(0);
    expect(greedy.logProb).toBeCloseTo(Math.log(0.5), 6);
    const hot = sampleToken(new Float32Array([2, 0]), { doSample: false, temperature: 1, topK: 0, topP: 1 }, createRng(0));
    expect(hot.logProb).toBeCloseTo(2 - Math.log(Math.exp(2) + 1), 6);
  });
});
