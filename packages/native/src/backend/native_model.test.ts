import * as tf from '@tensorflow/tfjs';

import { describeNative, relativeError, runOn } from '../../test/compare_backends';
import { gptLoss, makeGptBatch, makeGptWeights, type GptShape } from '../../test/gpt_model';

const smallShape: GptShape = { layers: 2, modelDim: 32, heads: 4, vocab: 64, sequence: 16, batch: 2 };

describeNative('native whole-model forward and backward')('native whole-model forward and backward', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gives the cpu loss and every weight gradient of a small GPT within 1e-4', async () => {
    const names: string[] = [];
    const program = (): tf.Tensor[] => {
      const weights = makeGptWeights(smallShape);
      const { ids, targets } = makeGptBatch(smallShape);
      names.length = 0;
      names.push(...Object.keys(weights));
      const { value, grads } = tf.variableGrads(() => gptLoss(smallShape, weights, ids, targets), Object.values(weights));
      const outputs = [value, ...names.map((name) => grads[name] as tf.Tensor)];
      Object.values(weights).forEach((w) => w.dispose());
      return outputs;
    };
    const native = await runOn('native', program);
    const cpu = await runOn('cpu', program);
    expect(native.length).toBe(names.length + 1);
    // the loss is near ln(64) for these small random weights
    expect(cpu[0]!.values[0]).toBeGreaterThan(3.5);
    cpu.forEach((expected, i) => {
      const error = relativeError(native[i]!.values, expected.values);
      if (error > 1e-4) throw new Error(`${i === 0 ? 'loss' : names[i - 1]}: relative error ${error}`);
    });
  });
});
