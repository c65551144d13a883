import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError, createCausalLM, readSafetensors, readSafetensorsHeader, saveCausalLM, writeSafetensors, type ModelConfigOptions } from '@rlhfjs/core';
import { RewardNormalizer } from '../normalize/reward_normalizer';
import { RewardModel } from './reward_model';
import { loadRewardModel, saveRewardModel } from './reward_model_io';

const ids = [[3, 5, 7, 1, 0], [0, 0, 4, 9, 2]];
const mask = [[1, 1, 1, 1, 0], [0, 0, 1, 1, 1]];

function rewardsOf(model: RewardModel): number[] {
  return tf.tidy(() => Array.from(model.rewards(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32')).dataSync()));
}

const configs: Array<[string, ModelConfigOptions, string, string]> = [
  ['gpt2', { modelType: 'gpt2', vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 16, eosTokenId: 1 }, 'transformer.', 'GPT2ForSequenceClassification'],
  ['llama (untied)', { modelType: 'llama', vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, eosTokenId: 1 }, 'model.', 'LlamaForSequenceClassification'],
  ['qwen2', { modelType: 'qwen2', vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, tieWordEmbeddings: true }, 'model.', 'Qwen2ForSequenceClassification'],
  ['mistral', { modelType: 'mistral', vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, numKeyValueHeads: 1, intermediateSize: 16 }, 'model.', 'MistralForSequenceClassification'],
];

describe('saveRewardModel / loadRewardModel', () => {
  let root: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'reward-io-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it.each(configs)('%s: writes the HF sequence-classification layout and reloads with identical rewards', async (name, options, prefix, architecture) => {
    const model = RewardModel.fromCausalLM(createCausalLM(options, { seed: 2 }), { seed: 4, padTokenId: 0 });
    const directory = path.join(root, name.replace(/\W+/g, '_'));
    await saveRewardModel(model, directory);

    const header = await readSafetensorsHeader(path.join(directory, 'model.safetensors'));
    const names = [...header.tensors.keys()];
    expect(names).toContain('score.weight');
    expect(header.tensors.get('score.weight')?.shape).toEqual([1, 8]);
    expect(names.some((key) => key.startsWith('lm_head'))).toBe(false);
    expect(names.filter((key) => key !== 'score.weight').every((key) => key.startsWith(prefix))).toBe(true);
    expect(header.metadata['format']).toBe('pt');

    const config = JSON.parse(await fs.readFile(path.join(directory, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['architectures']).toEqual([architecture]);
    expect(config['num_labels']).toBe(1);
    expect(config['id2label']).toEqual({ '0': 'LABEL_0' });
    expect(config['label2id']).toEqual({ LABEL_0: 0 });
    expect(config['pad_token_id']).toBe(0);
    expect(config['tie_word_embeddings']).toBe(model.config.tieWordEmbeddings);

    const loaded = await loadRewardModel(directory);
    expect(rewardsOf(loaded)).toEqual(rewardsOf(model));
    expect(loaded.padTokenId).toBe(0);
    expect(loaded.tieWordEmbeddings).toBe(model.tieWordEmbeddings);
    expect(loaded.normalizer).toBeNull();

    // saving the reloaded model writes the same config (an untied model loaded without lm_head stays untied on disk)
    await saveRewardModel(loaded, `${directory}-again`);
    expect(JSON.parse(await fs.readFile(path.join(`${directory}-again`, 'config.json'), 'utf8'))).toEqual(config);
    model.dispose();
    loaded.dispose();
  });

  it('saves and reloads the reward normalizer', async () => {
    const model = RewardModel.fromCausalLM(createCausalLM(configs[0]![1], { seed: 2 }), { padTokenId: 0 });
    model.normalizer = new RewardNormalizer().fit([1, 2, 3, 10]);
    const directory = path.join(root, 'with-normalizer');
    await saveRewardModel(model, directory);
    const loaded = await loadRewardModel(directory);
    expect(loaded.normalizer?.state()).toEqual(model.normalizer.state());
    model.dispose();
    loaded.dispose();
  });

  it('refuses a causal LM checkpoint (no score head) and says how to initialise one', async () => {
    const backbone = createCausalLM(configs[1]![1], { seed: 2 });
    const directory = path.join(root, 'causal-lm');
    await saveCausalLM(backbone, directory);
    backbone.dispose();
    const error = await loadRewardModel(directory).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).code).toBe('REWARD_NO_SCORE_HEAD');
    expect((error as Error).message).toContain('no score head');
    expect((error as Error).message).toContain('RewardModel.fromCausalLM(await loadCausalLM(');
  });

  it('refuses a head with more than one label', async () => {
    const model = RewardModel.fromCausalLM(createCausalLM(configs[0]![1], { seed: 2 }), { padTokenId: 0 });
    const directory = path.join(root, 'two-labels');
    await saveRewardModel(model, directory);
    model.dispose();
    // rewrite score.weight as [2, 8]
    const file = path.join(directory, 'model.safetensors');
    const tensors = (await readSafetensors(file)).tensors;
    const state = new Map([...tensors].map(([key, entry]) => [key, { data: entry.data as Float32Array, shape: [...entry.shape] }]));
    state.set('score.weight', { data: new Float32Array(16), shape: [2, 8] });
    await writeSafetensors(file, state);
    await expect(loadRewardModel(directory)).rejects.toThrow(/\[1, 8\] head/);
  });

  it('refuses to save without a pad token id', async () => {
    const model = RewardModel.fromCausalLM(createCausalLM({ ...configs[0]![1], eosTokenId: null }, { seed: 2 }));
    expect(model.padTokenId).toBeNull();
    await expect(saveRewardModel(model, path.join(root, 'no-pad'))).rejects.toThrow(CheckpointError);
    model.dispose();
  });
});
