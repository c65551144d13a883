import * as tf from '@tensorflow/tfjs';
import { createCausalLM, sequenceLogProbs } from '@rlhfjs/core';
import { collatePreferenceBatch, concatenatedForward, type DpoExample } from './preference_batch';

const examples: DpoExample[] = [
  { index: 0, promptIds: [5, 6, 7], chosenIds: [8, 9, 1], rejectedIds: [10, 1] },
  { index: 1, promptIds: [11], chosenIds: [12, 1], rejectedIds: [13, 14, 15, 16, 1] },
];

describe('collatePreferenceBatch', () => {
  it('stacks chosen rows then rejected rows, right-padded, loss on completion tokens only', () => {
    const batch = collatePreferenceBatch(examples, 0);
    expect(batch.inputIds).toEqual([
      [5, 6, 7, 8, 9, 1],
      [11, 12, 1, 0, 0, 0],
      [5, 6, 7, 10, 1, 0],
      [11, 13, 14, 15, 16, 1],
    ]);
    expect(batch.attentionMask).toEqual([
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1, 1],
    ]);
    expect(batch.lossMask).toEqual([
      [0, 0, 0, 1, 1, 1],
      [0, 1, 1, 0, 0, 0],
      [0, 0, 0, 1, 1, 0],
      [0, 1, 1, 1, 1, 1],
    ]);
    expect(batch.chosenLengths).toEqual([3, 2]);
    expect(batch.rejectedLengths).toEqual([2, 5]);
  });
});

describe('concatenatedForward', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('equals each completion scored alone, unpadded (summed log-probs), without leaking tensors', () => {
    const model = createCausalLM({ modelType: 'gpt2', vocabSize: 20, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 16 }, { seed: 3 });
    const batch = collatePreferenceBatch(examples, 0);
    const before = tf.memory().numTensors;
    const { chosen, rejected } = tf.tidy(() => {
      const outputs = concatenatedForward(model, batch);
      return { chosen: Array.from(outputs.chosenLogps.dataSync()), rejected: Array.from(outputs.rejectedLogps.dataSync()) };
    });
    expect(tf.memory().numTensors).toBe(before);
    const alone = (prompt: readonly number[], completion: readonly number[]): number =>
      tf.tidy(() => {
        const ids = [...prompt, ...completion];
        const tokenLogProbs = sequenceLogProbs(model, { inputIds: tf.tensor2d([ids], undefined, 'int32') }).dataSync(); // [1, T−1]
        let sum = 0;
        for (let t = prompt.length; t < ids.length; t++) sum += tokenLogProbs[t - 1] as number;
        return sum;
      });
    examples.forEach((example, i) => {
      expect(Math.abs((chosen[i] as number) - alone(example.promptIds, example.chosenIds))).toBeLessThan(1e-5);
      expect(Math.abs((rejected[i] as number) - alone(example.promptIds, example.rejectedIds))).toBeLessThan(1e-5);
    });
    model.dispose();
  });
});
