import * as tf from '@tensorflow/tfjs';
import { IdentityReducer, createCausalLM } from '@rlhfjs/core';
import { tokenizePreferencePairs } from '../../src/data/preference_pairs';
import { evaluateRewardModel } from '../../src/eval/evaluate_reward_model';
import { RewardModel } from '../../src/model/reward_model';
import { RewardTrainer } from '../../src/train/reward_trainer';
import { arithmeticPreferences } from '../helpers/arithmetic_preferences';
import { tinyTokenizer } from '../helpers/tiny_tokenizer';

const FLIP = 0.1;
const TRAIN = 240;
const HELD = 100;
const BATCH = 16;
const EPOCHS = 2;

describe('RewardTrainer on a small arithmetic preference corpus', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('reaches high held-out accuracy, keeps tensor count flat and reports identical pairs', async () => {
    const train = arithmeticPreferences(TRAIN, 1, FLIP, 2);
    const held = arithmeticPreferences(HELD, 2, FLIP, 2);
    const identical = [{ prompt: '1+1=', chosen: '2', rejected: '2' }, { prompt: '0+3=', chosen: '3', rejected: '3' }];
    const tokenizer = tinyTokenizer(train.clean.map((pair) => `${pair.prompt}${pair.chosen}`), 270);
    const backbone = createCausalLM(
      { modelType: 'llama', vocabSize: tokenizer.vocabSize, hiddenSize: 32, numLayers: 1, numHeads: 4, intermediateSize: 64, eosTokenId: tokenizer.eosTokenId, maxPositions: 64 },
      { seed: 0 },
    );
    const model = RewardModel.fromCausalLM(backbone, { seed: 1, padTokenId: tokenizer.padTokenId });
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tensorCounts: number[] = [];
    class CountingReducer extends IdentityReducer {
      override async allReduceSum(values: readonly number[]): Promise<number[]> {
        tensorCounts.push(tf.memory().numTensors); // before and after every step
        return super.allReduceSum(values);
      }
    }
    const trainer = new RewardTrainer(
      { model, tokenizer, trainDataset: [...train.examples, ...identical], evalDataset: held.examples, reducer: new CountingReducer() },
      { batchSize: BATCH, epochs: EPOCHS, learningRate: 1e-2, warmupSteps: 3, seed: 3, progress: false },
    );
    const started = Date.now();
    const result = await trainer.train();
    const seconds = (Date.now() - started) / 1000;
    const warned = warn.mock.calls.some(([message]) => String(message).includes(`2 of ${TRAIN + 2} training pairs have identical chosen and rejected`));
    warn.mockRestore();

    expect(result.skippedIdenticalPairs).toBe(2);
    expect(warned).toBe(true);
    expect(result.steps).toBe(Math.floor(TRAIN / BATCH) * EPOCHS);
    // tensors: step 1 creates the optimizer state; after that the count must not move
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);

    const final = result.evaluations[result.evaluations.length - 1]!;
    const clean = await evaluateRewardModel(model, tokenizePreferencePairs(held.clean, tokenizer).pairs, { batchSize: 32 });
    const first = result.history[0]!;
    const last = result.history[result.history.length - 1]!;
    console.log(
      `reward trainer: ${result.steps} steps in ${seconds.toFixed(1)} s; loss ${first.loss.toFixed(3)} → ${last.loss.toFixed(3)}; ` +
        `held-out accuracy ${final.accuracy.toFixed(3)} on labels with ${held.flipped}/${HELD} flipped (${FLIP * 100}% noise, ceiling ≈ ${(1 - held.flipped / HELD).toFixed(3)}), ` +
        `${clean.accuracy.toFixed(3)} on the clean labels; train noise ${train.flipped}/${TRAIN}`,
    );
    expect(final.count).toBe(HELD);
    // chance is 0.5; the best reward that ignores the prompt ranks answer digits by their prior (2 > 1 > 3 > 0 > 4 > 5…8)
    // and reaches ≈ 0.82 on clean labels (≈ 0.76 with 10% flipped), so these bounds need the prompt to be read
    expect(final.accuracy).toBeGreaterThan(0.8); // noise ceiling ≈ 0.88
    expect(clean.accuracy).toBeGreaterThan(0.9);
    expect(final.meanMargin).toBeGreaterThan(0);
    expect(last.loss).toBeLessThan(first.loss);
    trainer.dispose();
    model.dispose();
  });
});
