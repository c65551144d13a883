import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/grpo_losses.json';
import { expectClose } from '../../test/expect_close';
import { grpoLoss, type GrpoLossOptions, type GrpoLossType, type ImportanceSamplingLevel } from './grpo_loss';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const fixture = golden.grpoLoss;

function inputs() {
  return {
    perTokenLogps: tf.tensor2d(fixture.inputs.perTokenLogps),
    oldPerTokenLogps: tf.tensor2d(fixture.inputs.oldPerTokenLogps),
    refPerTokenLogps: tf.tensor2d(fixture.inputs.refPerTokenLogps),
    advantages: tf.tensor1d(fixture.inputs.advantages),
    mask: tf.tensor2d(fixture.inputs.mask),
  };
}

function optionsOf(raw: (typeof fixture.cases)[number]['options']): GrpoLossOptions {
  return {
    lossType: raw.lossType as GrpoLossType,
    importanceSamplingLevel: raw.importanceSamplingLevel as ImportanceSamplingLevel,
    beta: raw.beta,
    epsilonLow: raw.epsilonLow,
    epsilonHigh: raw.epsilonHigh,
    ...(raw.delta === null ? {} : { delta: raw.delta }),
    maxCompletionLength: fixture.maxCompletionLength,
    numItemsInBatch: fixture.numItemsInBatch,
    worldSize: fixture.worldSize,
  };
}

describe('grpoLoss', () => {
  test.each(fixture.cases.map((goldenCase) => [JSON.stringify(goldenCase.options), goldenCase] as const))(
    '%s: loss, d loss / d perTokenLogps and metrics match the PyTorch golden',
    (_name, goldenCase) => {
      const tensors = inputs();
      const options = optionsOf(goldenCase.options);
      const result = grpoLoss(tensors, options);
      expectClose([result.loss.dataSync()[0] as number], [goldenCase.loss], 'loss');
      for (const [name, value] of Object.entries(goldenCase.metrics)) {
        expectClose([result.metrics[name as keyof typeof result.metrics] as number], [value], name);
      }
      expect(Object.keys(result.metrics).sort()).toEqual(Object.keys(goldenCase.metrics).sort());
      const gradient = tf.grad((logps: tf.Tensor) => grpoLoss({ ...tensors, perTokenLogps: logps as tf.Tensor2D }, options).loss)(tensors.perTokenLogps);
      expectClose(gradient.dataSync(), goldenCase.gradPerTokenLogps.flat(), 'd loss / d perTokenLogps');
      tf.dispose([result.loss, gradient, ...Object.values(tensors)]);
    },
  );

  test('on-policy (π = π_old), β = 0: grpo loss is −mean(A) and nothing is clipped', () => {
    const logps = tf.tensor2d([[-1, -2, -3], [-0.5, -1, -9]]);
    const advantages = tf.tensor1d([1.5, -0.5]);
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    const result = grpoLoss({ perTokenLogps: logps, oldPerTokenLogps: logps, advantages, mask }, { lossType: 'grpo', importanceSamplingLevel: 'token', beta: 0, epsilonLow: 0.2, epsilonHigh: 0.2, maxCompletionLength: 3 });
    expectClose([result.loss.dataSync()[0] as number], [-(1.5 - 0.5) / 2], 'loss');
    expect(result.metrics['clip_ratio/region_mean']).toBe(0);
    expect(result.metrics.kl).toBeUndefined();
    tf.dispose([logps, advantages, mask, result.loss]);
  });

  test('bad options and shapes are typed errors naming the argument; no tensor leaks', () => {
    const tensors = inputs();
    const base = optionsOf(fixture.cases[0]!.options);
    expect(() => grpoLoss(tensors, { ...base, lossType: 'ppo' as GrpoLossType })).toThrow(/lossType/);
    expect(() => grpoLoss(tensors, { ...base, epsilonLow: 0 })).toThrow(ConfigError);
    expect(() => grpoLoss({ ...tensors, refPerTokenLogps: undefined }, { ...base, beta: 0.1 })).toThrow(/refPerTokenLogps/);
    const wrongAdvantages = tf.zeros([3]) as tf.Tensor1D;
    expect(() => grpoLoss({ ...tensors, advantages: wrongAdvantages }, base)).toThrow(ShapeError);
    const wrongMask = tf.zeros([4, 5]) as tf.Tensor2D;
    expect(() => grpoLoss({ ...tensors, mask: wrongMask }, base)).toThrow(/mask \[4, 5\]/);
    const before = tf.memory().numTensors;
    for (const raw of fixture.cases.slice(0, 8)) grpoLoss(tensors, optionsOf(raw.options)).loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([wrongAdvantages, wrongMask, ...Object.values(tensors)]);
  });
});
