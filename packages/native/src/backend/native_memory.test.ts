import * as tf from '@tensorflow/tfjs';

import { describeNative } from '../../test/compare_backends';
import { gptLoss, makeGptBatch, makeGptWeights, type GptShape } from '../../test/gpt_model';

const smallShape: GptShape = { layers: 2, modelDim: 64, heads: 4, vocab: 128, sequence: 32, batch: 4 };

describeNative('native backend memory over training steps')('native backend memory over training steps', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('keeps numTensors and resident memory flat over 100 Adam steps', async () => {
    await tf.setBackend('native');
    const weights = makeGptWeights(smallShape);
    const { ids, targets } = makeGptBatch(smallShape);
    const optimizer = tf.train.adam(1e-3);
    const step = (): number => {
      const cost = optimizer.minimize(() => gptLoss(smallShape, weights, ids, targets), true, Object.values(weights));
      const loss = cost?.dataSync()[0] ?? NaN;
      cost?.dispose();
      return loss;
    };
    const first = step();
    for (let i = 0; i < 9; i++) step();
    const tensorsAfterWarmup = tf.memory().numTensors;
    const residentAfterWarmup = process.memoryUsage().rss;
    let last = NaN;
    for (let i = 0; i < 90; i++) last = step();
    expect(tf.memory().numTensors).toBe(tensorsAfterWarmup);
    // generous: 90 steps of this model allocate several GB in total; a leak of even one activation per step would show
    expect(process.memoryUsage().rss - residentAfterWarmup).toBeLessThan(150 * 1024 * 1024);
    expect(last).toBeLessThan(first); // it trains
    optimizer.dispose();
    tf.dispose([ids, targets, ...Object.values(weights)]);
  });
});
