import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, createCausalLM } from '@rlhfjs/core';
import { RewardModel } from './reward_model';
import { lastRealTokenIndices } from './last_token';

const PAD = 0;
const EOS = 1;

function tinyGpt2(): RewardModel {
  const backbone = createCausalLM({ modelType: 'gpt2', vocabSize: 24, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, eosTokenId: EOS }, { seed: 3 });
  return RewardModel.fromCausalLM(backbone, { seed: 7, padTokenId: PAD });
}

function tinyLlama(): RewardModel {
  const backbone = createCausalLM(
    { modelType: 'llama', vocabSize: 24, hiddenSize: 16, numLayers: 2, numHeads: 2, numKeyValueHeads: 1, intermediateSize: 32, eosTokenId: EOS },
    { seed: 5 },
  );
  return RewardModel.fromCausalLM(backbone, { seed: 11, padTokenId: PAD });
}

function rewardsOf(model: RewardModel, ids: number[][], mask: number[][]): number[] {
  return tf.tidy(() => Array.from(model.rewards(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32')).dataSync()));
}

/** The reward of one sequence on its own (no padding at all). */
function alone(model: RewardModel, ids: number[]): number {
  return rewardsOf(model, [ids], [ids.map(() => 1)])[0] as number;
}

describe('lastRealTokenIndices', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('is the last position where the mask is 1, for right and left padding', () => {
    const mask = tf.tensor2d([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0]], undefined, 'int32');
    expect(Array.from(lastRealTokenIndices(mask))).toEqual([2, 4, 4, 1]);
    mask.dispose();
  });

  it('refuses a row with no real token', () => {
    const mask = tf.tensor2d([[1, 0], [0, 0]], undefined, 'int32');
    expect(() => lastRealTokenIndices(mask)).toThrow(ShapeError);
    mask.dispose();
  });
});

describe.each([
  ['gpt2', tinyGpt2],
  ['llama', tinyLlama],
])('RewardModel (%s)', (_family, make) => {
  let model: RewardModel;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = make();
  });
  afterAll(() => model.dispose());

  const withEos = [5, 9, 3, 7, EOS];
  const withoutEos = [6, 4, 12];

  it('reads the reward at the last real token with right padding', () => {
    const ids = [withEos, [...withoutEos, PAD, PAD]];
    const rewards = rewardsOf(model, ids, [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
    expect(rewards[0]).toBeCloseTo(alone(model, withEos), 5);
    expect(rewards[1]).toBeCloseTo(alone(model, withoutEos), 5);
  });

  it('reads the reward at the last real token with left padding', () => {
    const ids = [withEos, [PAD, PAD, ...withoutEos]];
    const rewards = rewardsOf(model, ids, [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]]);
    expect(rewards[0]).toBeCloseTo(alone(model, withEos), 5);
    expect(rewards[1]).toBeCloseTo(alone(model, withoutEos), 5);
  });

  it('does not change when a token after the last real one changes, and does when the last real token changes', () => {
    const mask = [[1, 1, 1, 0, 0]];
    const base = rewardsOf(model, [[...withoutEos, PAD, PAD]], mask)[0] as number;
    const afterChanged = rewardsOf(model, [[...withoutEos, 17, 20]], mask)[0] as number;
    const lastChanged = rewardsOf(model, [[6, 4, 13, PAD, PAD]], mask)[0] as number;
    expect(afterChanged).toBe(base);
    expect(Math.abs(lastChanged - base)).toBeGreaterThan(1e-4);
    // with EOS: the EOS is the last real token; replacing it changes the reward
    const eosBase = alone(model, withEos);
    const eosReplaced = alone(model, [5, 9, 3, 7, 2]);
    expect(Math.abs(eosReplaced - eosBase)).toBeGreaterThan(1e-4);
    // and left padding: changing the pad tokens in front changes nothing
    const leftMask = [[0, 0, 1, 1, 1]];
    expect(rewardsOf(model, [[PAD, PAD, ...withoutEos]], leftMask)[0]).toBeCloseTo(rewardsOf(model, [[19, 8, ...withoutEos]], leftMask)[0] as number, 5);
  });

  it('equals the head applied to the final hidden state at that position', () => {
    const ids = [[...withoutEos, PAD, PAD]];
    const mask = [[1, 1, 1, 0, 0]];
    const expected = tf.tidy(() => {
      const { hiddenStates } = model.backbone.forward({ inputIds: tf.tensor2d(ids, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'int32'), logits: 'none' });
      const hidden = hiddenStates.arraySync()[0]![2]!; // position 2, the last real token
      const weights = model.score.dataSync();
      return hidden.reduce((sum, value, index) => sum + value * (weights[index] as number), 0);
    });
    expect(rewardsOf(model, ids, mask)[0]).toBeCloseTo(expected, 5);
  });

  it('trains only backbone parameters that are trainable, never the LM head, plus the head', () => {
    const names = [...model.trainableParameters().keys()];
    expect(names).toContain('score.weight');
    expect(names.some((name) => name.startsWith('lm_head'))).toBe(false);
    expect(names.length).toBe(model.backbone.trainableParameters().size - (model.config.tieWordEmbeddings ? 0 : 1) + 1);
  });

  it('gets gradients for the head and the backbone', () => {
    const parameters = model.trainableParameters();
    const { value, grads } = tf.variableGrads(
      () => tf.sum(model.rewards(tf.tensor2d([withEos], undefined, 'int32'), tf.tensor2d([[1, 1, 1, 1, 1]], undefined, 'int32'))) as tf.Scalar,
      [...parameters.values()],
    );
    const score = grads[(parameters.get('score.weight') as tf.Variable).name];
    expect(score).toBeDefined();
    expect(Object.keys(grads).length).toBe(parameters.size);
    tf.dispose([value, ...Object.values(grads)]);
  });

  it('does not leak tensors', () => {
    const ids = tf.tensor2d([[PAD, ...withoutEos, 2]], undefined, 'int32');
    const mask = tf.tensor2d([[0, 1, 1, 1, 1]], undefined, 'int32');
    model.rewards(ids, mask).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) model.rewards(ids, mask).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask]);
  });
});

describe('RewardModel.fromCausalLM', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('draws the head from N(0, initializer_range), reproducibly from the seed', () => {
    const backbone = createCausalLM({ modelType: 'gpt2', vocabSize: 8, hiddenSize: 128, numLayers: 1, numHeads: 2, maxPositions: 8 });
    const a = RewardModel.fromCausalLM(backbone, { seed: 1 });
    const values = Array.from(a.score.dataSync());
    const std = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    const b = RewardModel.fromCausalLM(createCausalLM({ modelType: 'gpt2', vocabSize: 8, hiddenSize: 128, numLayers: 1, numHeads: 2, maxPositions: 8 }), { seed: 1 });
    expect(Array.from(b.score.dataSync())).toEqual(values);
    a.dispose();
    b.dispose();
  });

  it('refuses a pad token outside the vocabulary', () => {
    const backbone = createCausalLM({ modelType: 'gpt2', vocabSize: 8, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 8 });
    expect(() => RewardModel.fromCausalLM(backbone, { padTokenId: 99 })).toThrow(ConfigError);
    backbone.dispose();
  });
});
