import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/ppo_pieces.json';
import { entropyFromLogits } from './entropy';
import { maskedMean, type LossAggregation } from './masked_mean';
import { policyLoss, type PolicyLossOptions } from './policy_loss';
import { expectClose } from '../../test/expect_close';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function goldenTensors() {
  return {
    logprobs: tf.tensor2d(golden.inputs.logprobs),
    oldLogprobs: tf.tensor2d(golden.inputs.oldLogprobs),
    advantages: tf.tensor2d(golden.inputs.advantages),
    mask: tf.tensor2d(golden.inputs.mask),
    logits: tf.tensor3d(golden.inputs.logits),
  };
}

describe('policyLoss', () => {
  test.each(golden.policyLoss.map((goldenCase) => [JSON.stringify(goldenCase.options), goldenCase]))(
    '%s matches the PyTorch golden (loss, gradient, metrics)',
    (_name, goldenCase) => {
      const inputs = goldenTensors();
      const raw = goldenCase.options;
      const options: PolicyLossOptions = {
        clipRange: raw.clipRange,
        aggregation: raw.aggregation as LossAggregation,
        entropyCoef: raw.entropyCoef,
        ...(raw.dualClip === null ? {} : { dualClip: raw.dualClip }),
      };
      const result = policyLoss(inputs, options);
      expectClose([result.loss.dataSync()[0] as number], [goldenCase.loss], 'loss');
      for (const [name, value] of Object.entries(goldenCase.metrics)) {
        expectClose([result.metrics[name as keyof typeof result.metrics] as number], [value], name);
      }
      const gradient = tf.grad((logprobs: tf.Tensor) => policyLoss({ ...inputs, logprobs: logprobs as tf.Tensor2D }, options).loss)(
        inputs.logprobs,
      );
      expectClose(gradient.dataSync(), goldenCase.gradLogprobs.flat(), 'd loss / d logprobs');
      tf.dispose([result.loss, gradient, ...Object.values(inputs)]);
    },
  );

  test('ratio 1 (on-policy): loss is −mean(A) and nothing is clipped', () => {
    const logprobs = tf.tensor2d([[-1, -2], [-0.5, -3]]);
    const advantages = tf.tensor2d([[1, -2], [0.5, 3]]);
    const mask = tf.tensor2d([[1, 1], [1, 0]]);
    const result = policyLoss({ logprobs, oldLogprobs: logprobs, advantages, mask }, { dualClip: 3 });
    expectClose([result.loss.dataSync()[0] as number], [-(1 - 2 + 0.5) / 3], 'loss');
    expect(result.metrics.clipFrac).toBe(0);
    expect(result.metrics.approxKl).toBe(0);
    tf.dispose([logprobs, advantages, mask, result.loss]);
  });

  test('checks options and shapes; does not leak', () => {
    const inputs = goldenTensors();
    expect(() => policyLoss(inputs, { dualClip: 1 })).toThrow(ConfigError);
    const wrong = tf.zeros([3, 4]) as tf.Tensor2D;
    expect(() => policyLoss({ ...inputs, advantages: wrong })).toThrow(ShapeError);
    const before = tf.memory().numTensors;
    for (let index = 0; index < 3; index += 1) policyLoss(inputs, { dualClip: 3, entropyCoef: 0.01 }).loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([wrong, ...Object.values(inputs)]);
  });
});

describe('entropyFromLogits', () => {
  test('matches the PyTorch golden and is ln V for uniform logits', () => {
    const logits = tf.tensor3d(golden.inputs.logits);
    const mask = tf.tensor2d(golden.inputs.mask);
    const entropy = entropyFromLogits(logits, mask);
    expectClose(entropy.dataSync(), golden.entropy.flat(), 'entropy');
    const uniform = tf.zeros([1, 2, 8]) as tf.Tensor3D;
    const ones = tf.ones([1, 2]) as tf.Tensor2D;
    const uniformEntropy = entropyFromLogits(uniform, ones);
    expectClose(uniformEntropy.dataSync(), [Math.log(8), Math.log(8)], 'uniform');
    tf.dispose([logits, mask, entropy, uniform, ones, uniformEntropy]);
  });
});

describe('maskedMean', () => {
  test('ignores masked-out entries', () => {
    const values = tf.tensor2d([[1, 2, 100], [3, 100, 100]]);
    const mask = tf.tensor2d([[1, 1, 0], [1, 0, 0]]);
    const mean = maskedMean(values, mask);
    expectClose(mean.dataSync(), [2], 'mean');
    tf.dispose([values, mask, mean]);
  });
});
