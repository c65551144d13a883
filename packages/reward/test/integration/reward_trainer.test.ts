import * as tf from '@tensorflow/tfjs';
import { createCausalLM } from '@rlhfjs/core';
import { tokenizePreferencePairs } from '../../src/data/preference_pairs';
import { evaluateRewardModel } from '../../src/eval/evaluate_reward_model';
import { RewardModel } from '../../src/model/reward_model';
import { RewardTrainer } from '../../src/train/reward_trainer';
import { arithmeticPreferences } from '../helpers/arithmetic_preferences';
import { tinyTokenizer } from '../helpers/tiny_tokenizer';

const FLIP = 0.1;

describe('RewardTrainer on a small arithmetic preference corpus', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('reaches high held-out accuracy, keeps tensor count flat and reports identical pairs', async () => {
    const train = arithmeticPreferences(480, 1, FLIP, 2);
    const held = arithmeticPreferences(200, 2, FLIP, 2);
    const identical = [{ prompt: '1+1=', chosen: '2', rejected: '2' }, { prompt: '0+3=', chosen: '3', rejected: '3' }];
    const tokenizer = tinyTokenizer(train.clean.map((pair) => `${pair.prompt}${pair.chosen}`), 270);
    const backbone = createCausalLM(
      { modelType: 'llama', vocabSize: tokenizer.vocabSize, hiddenSize: 32, numLayers: 2, numHeads: 4, intermediateSize: 64, eosTokenId: tokenizer.eosTokenId, maxPositions: 64 },
      { seed: 0 },
    );
    const model = RewardModel.fromCausalLM(backbone, { seed: 1, padTokenId: tokenizer.padTokenId });
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tensorCounts: number[] = [];
    const trainer = new RewardTrainer(
      { model, tokenizer, trainDataset: [...train.examples, ...identical], evalDataset: held.examples, onLog: () => tensorCounts.push(tf.memory().numTensors) },
      { batchSize: 16, epochs: 2, learningRate: 5e-3, warmupSteps: 5, seed: 3 },
    );
    const started = Date.now();
    const result = await trainer.train();
    const seconds = (Date.now() - started) / 1000;
    const warned = warn.mock.calls.some(([message]) => String(message).includes('2 of 482 training pairs have identical chosen and rejected'));
    warn.mockRestore();

    expect(result.skippedIdenticalPairs).toBe(2);
    expect(warned).toBe(true);
    expect(result.steps).toBe(60); // 480 pairs / 16 × 2 epochs
    // tensors: step 1 creates the optimizer state; after that the count must not move
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);

    const final = result.evaluations[result.evaluations.length - 1]!;
    const clean = await evaluateRewardModel(model, tokenizePreferencePairs(held.clean, tokenizer).pairs, { batchSize: 32 });
    const first = result.history[0]!;
    const last = result.history[result.history.length - 1]!;
    console.log(
      `reward trainer: ${result.steps} steps in ${seconds.toFixed(1)} s; loss ${first.loss.toFixed(3)} → ${last.loss.toFixed(3)}; ` +
        `held-out accuracy ${final.accuracy.toFixed(3)} on labels with ${held.flipped}/200 flipped (${FLIP * 100}% noise, ceiling ≈ ${(1 - held.flipped / 200).toFixed(3)}), ` +
        `${clean.accuracy.toFixed(3)} on the clean labels; train noise ${train.flipped}/480`,
    );
    expect(final.count).toBe(200);
    expect(final.accuracy).toBeGreaterThan(0.7); // chance is 0.5, the noise ceiling ≈ 0.875
    expect(clean.accuracy).toBeGreaterThan(0.8);
    expect(final.meanMargin).toBeGreaterThan(0);
    expect(last.loss).toBeLessThan(first.loss);
    trainer.dispose();
    model.dispose();
  });
});
