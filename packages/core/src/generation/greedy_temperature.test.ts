import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors/errors';
import type { CausalLM } from '../model/causal_lm';
import { createCausalLM } from '../model/model_factory';
import { generate, resolveGenerationConfig } from './generate';

// temperature 0 means greedy decoding, as in HF (`do_sample` off), vLLM and the OpenAI API.
describe('generate with temperature 0', () => {
  let model: CausalLM;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = createCausalLM({ modelType: 'llama', vocabSize: 16, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 32 }, { seed: 5 });
  });
  afterAll(() => model.dispose());

  it('resolves to greedy decoding', () => {
    const config = resolveGenerationConfig(model, { temperature: 0 });
    expect(config.doSample).toBe(false);
    expect(config.temperature).toBe(0);
    expect(resolveGenerationConfig(model, { temperature: 0, doSample: false }).doSample).toBe(false);
  });

  it('generates exactly what doSample: false generates, whatever the seed, with finite log-probs', () => {
    const prompts = { inputIds: [[1, 2, 3], [4, 5, 6]] };
    const greedy = generate(model, prompts, { maxNewTokens: 8, doSample: false, stopTokenIds: [] });
    for (const seed of [0, 1]) {
      const zero = generate(model, prompts, { maxNewTokens: 8, temperature: 0, seed, stopTokenIds: [] });
      expect(zero.completionIds).toEqual(greedy.completionIds);
      expect(zero.logProbs).toEqual(greedy.logProbs);
    }
    expect(greedy.logProbs.flat().every((value) => Number.isFinite(value) && value <= 0)).toBe(true);
    // sampling at temperature 1 differs from greedy for some seed, so the test above is not vacuous
    const sampled = [0, 1, 2].map((seed) => generate(model, prompts, { maxNewTokens: 8, temperature: 1, seed, stopTokenIds: [] }).completionIds);
    expect(sampled.some((ids) => JSON.stringify(ids) !== JSON.stringify(greedy.completionIds))).toBe(true);
  });

  it('rejects temperature 0 with doSample: true, and negative or NaN temperatures, with a ConfigError', () => {
    expect(() => resolveGenerationConfig(model, { temperature: 0, doSample: true })).toThrow(/contradicts doSample: true/);
    expect(() => resolveGenerationConfig(model, { temperature: -1 })).toThrow(ConfigError);
    expect(() => resolveGenerationConfig(model, { temperature: Number.NaN })).toThrow(/temperature must be > 0/);
  });
});
