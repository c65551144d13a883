import * as tf from '@tensorflow/tfjs';
import { ConfigError, RlhfError, createCausalLM } from '@rlhfjs/core';
import { tinyTokenizer } from '../../test/helpers/tiny_tokenizer';
import { RewardModel } from '../model/reward_model';
import { RewardNormalizer } from '../normalize/reward_normalizer';
import { ensembleRewards } from './ensemble';
import { rewardFnFromModel } from './from_model';
import { rewardFnFromFunction } from './reward_fn';

describe('rewardFnFromFunction', () => {
  it('wraps sync and async code', async () => {
    const sync = rewardFnFromFunction((_prompts, completions) => completions.map((c) => c.length));
    const async = rewardFnFromFunction(async (_prompts, completions) => Float64Array.from(completions, (c) => -c.length));
    expect(Array.from(await sync(['p', 'q'], ['ab', 'c']))).toEqual([2, 1]);
    expect(Array.from(await async(['p', 'q'], ['ab', 'c']))).toEqual([-2, -1]);
  });

  it('refuses a wrong number of rewards, non-finite rewards and mismatched inputs', async () => {
    await expect(rewardFnFromFunction(() => [1])(['a', 'b'], ['c', 'd'])).rejects.toThrow(/returned 1 rewards for 2 completions/);
    await expect(rewardFnFromFunction(() => [1, Number.NaN])(['a', 'b'], ['c', 'd'])).rejects.toThrow(/reward 1 is NaN/);
    await expect(rewardFnFromFunction(() => [1, 'x' as unknown as number])(['a', 'b'], ['c', 'd'])).rejects.toThrow(RlhfError);
    await expect(rewardFnFromFunction(() => [1])(['a', 'b'], ['c'])).rejects.toThrow(ConfigError);
  });
});

describe('ensembleRewards', () => {
  const a = rewardFnFromFunction(() => [1, 4, -2]);
  const b = rewardFnFromFunction(() => [3, 4, 2]);
  const prompts = ['x', 'y', 'z'];

  it('mean, min and mean − penalty·std across members', async () => {
    expect(Array.from(await ensembleRewards([a, b], 'mean')(prompts, prompts))).toEqual([2, 4, 0]);
    expect(Array.from(await ensembleRewards([a, b], 'min')(prompts, prompts))).toEqual([1, 4, -2]);
    // std (population) across the two members: [1, 0, 2]
    expect(Array.from(await ensembleRewards([a, b], 'uncertainty-penalised mean', { penalty: 0.5 })(prompts, prompts))).toEqual([1.5, 4, -1]);
  });

  it('needs members, a known mode and a penalty for the penalised mean', () => {
    expect(() => ensembleRewards([], 'mean')).toThrow(ConfigError);
    expect(() => ensembleRewards([a], 'median' as never)).toThrow(ConfigError);
    expect(() => ensembleRewards([a], 'uncertainty-penalised mean')).toThrow(/penalty/);
  });

  it('names the member that returned a bad output', async () => {
    const bad = rewardFnFromFunction(() => [1, 2, 3]);
    const wrong = async (): Promise<Float32Array> => new Float32Array(2);
    await expect(ensembleRewards([bad, wrong], 'mean')(prompts, prompts)).rejects.toThrow(/member 1/);
  });
});

describe('rewardFnFromModel', () => {
  const corpus = ['What is 2+2? 4', 'Hello there, general', 'The sky is blue', 'The grass is green'];
  const tokenizer = tinyTokenizer(corpus);
  let model: RewardModel;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const backbone = createCausalLM({ modelType: 'llama', vocabSize: tokenizer.vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, eosTokenId: tokenizer.eosTokenId }, { seed: 1 });
    model = RewardModel.fromCausalLM(backbone, { seed: 2, padTokenId: tokenizer.padTokenId });
  });
  afterAll(() => model.dispose());

  function direct(text: string, special = true): number {
    const ids = tokenizer.encode(text, { addSpecialTokens: special });
    if (special && ids[ids.length - 1] !== tokenizer.eosTokenId) ids.push(tokenizer.eosTokenId as number);
    return tf.tidy(() => model.rewards(tf.tensor2d([ids], undefined, 'int32'), tf.tensor2d([ids.map(() => 1)], undefined, 'int32')).dataSync()[0] as number);
  }

  it('scores prompt + completion (with EOS), batched, as the model scores each one alone', async () => {
    const prompts = ['The sky is', 'The grass is', 'Hello', 'What is 2+2?', 'The sky is'];
    const completions = [' blue', ' green', ' there, general kenobi', ' 4', ' green'];
    const rewards = await rewardFnFromModel(model, tokenizer, { batchSize: 2 })(prompts, completions);
    expect(rewards.length).toBe(5);
    prompts.forEach((prompt, index) => expect(rewards[index]).toBeCloseTo(direct(prompt + completions[index]), 5));
  });

  it('renders conversational pairs with the chat template', async () => {
    const rewards = await rewardFnFromModel(model, tokenizer, { conversational: true })(['What is 2+2?'], ['4']);
    const text = tokenizer.applyChatTemplate([{ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: '4' }]);
    expect(rewards[0]).toBeCloseTo(direct(text, false), 5);
  });

  it('applies the model normalizer unless told not to', async () => {
    const raw = await rewardFnFromModel(model, tokenizer)(['a', 'b'], ['x', 'yy']);
    model.normalizer = new RewardNormalizer().fit([raw[0] as number, raw[1] as number, 5]);
    try {
      const normalized = await rewardFnFromModel(model, tokenizer)(['a', 'b'], ['x', 'yy']);
      expect(Array.from(normalized)).toEqual(Array.from(model.normalizer.normalize(raw)));
      expect(Array.from(await rewardFnFromModel(model, tokenizer, { normalize: false })(['a', 'b'], ['x', 'yy']))).toEqual(Array.from(raw));
    } finally {
      model.normalizer = null;
    }
  });

  it('keeps the last maxLength tokens', async () => {
    const long = 'The sky is blue and the grass is green';
    const ids = tokenizer.encode(long, { addSpecialTokens: true });
    ids.push(tokenizer.eosTokenId as number);
    const kept = ids.slice(ids.length - 4);
    const expected = tf.tidy(() => model.rewards(tf.tensor2d([kept], undefined, 'int32'), tf.tensor2d([[1, 1, 1, 1]], undefined, 'int32')).dataSync()[0] as number);
    const rewards = await rewardFnFromModel(model, tokenizer, { maxLength: 4 })([''], [long]);
    expect(rewards[0]).toBeCloseTo(expected, 5);
  });

  it('does not leak tensors', async () => {
    const fn = rewardFnFromModel(model, tokenizer, { batchSize: 2 });
    await fn(['a', 'b', 'c'], ['x', 'y', 'z']);
    const before = tf.memory().numTensors;
    await fn(['a', 'b', 'c'], ['x', 'y', 'z']);
    expect(tf.memory().numTensors).toBe(before);
  });
});
