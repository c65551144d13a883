import * as tf from '@tensorflow/tfjs';
import golden from '../../test/fixtures/grpo_losses.json';
import { expectClose } from '../../test/expect_close';
import { reinforcePlusPlusAdvantages } from './reinforce_plus_plus';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('reinforcePlusPlusAdvantages', () => {
  test.each(golden.reinforcePlusPlus.cases.map((goldenCase) => [goldenCase.gamma, goldenCase] as const))('gamma %s matches the PyTorch golden; no leak', async (_name, goldenCase) => {
    const scores = tf.tensor1d(golden.reinforcePlusPlus.scores);
    const logprobs = tf.tensor2d(golden.grpoLoss.inputs.perTokenLogps);
    const refLogprobs = tf.tensor2d(golden.grpoLoss.inputs.refPerTokenLogps);
    const responseMask = tf.tensor2d(golden.grpoLoss.inputs.mask);
    const before = tf.memory().numTensors;
    const result = await reinforcePlusPlusAdvantages({ scores, logprobs, refLogprobs, responseMask }, { klCoef: golden.reinforcePlusPlus.klCoef, gamma: goldenCase.gamma });
    expectClose(result.returns.dataSync(), goldenCase.returns.flat(), 'returns');
    expectClose(result.advantages.dataSync(), goldenCase.advantages.flat(), 'advantages');
    tf.dispose([result.advantages, result.returns, result.kl]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([scores, logprobs, refLogprobs, responseMask]);
  });
});
