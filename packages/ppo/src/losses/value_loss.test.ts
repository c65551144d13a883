import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/ppo_pieces.json';
import type { LossAggregation } from './masked_mean';
import { valueLoss } from './value_loss';
import { expectClose } from '../../test/expect_close';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function goldenTensors() {
  return {
    values: tf.tensor2d(golden.inputs.values),
    oldValues: tf.tensor2d(golden.inputs.oldValues),
    returns: tf.tensor2d(golden.inputs.returns),
    mask: tf.tensor2d(golden.inputs.mask),
  };
}

describe('valueLoss', () => {
  test.each(golden.valueLoss.map((goldenCase) => [JSON.stringify(goldenCase.options), goldenCase]))(
    '%s matches the PyTorch golden (loss, gradient, metrics)',
    (_name, goldenCase) => {
      const inputs = goldenTensors();
      const options = {
        clipRangeValue: goldenCase.options.clipRangeValue,
        aggregation: goldenCase.options.aggregation as LossAggregation,
      };
      const result = valueLoss(inputs, options);
      expectClose([result.loss.dataSync()[0] as number], [goldenCase.loss], 'loss');
      for (const [name, value] of Object.entries(goldenCase.metrics)) {
        expectClose([result.metrics[name as keyof typeof result.metrics]], [value], name);
      }
      const gradient = tf.grad((values: tf.Tensor) => valueLoss({ ...inputs, values: values as tf.Tensor2D }, options).loss)(
        inputs.values,
      );
      expectClose(gradient.dataSync(), goldenCase.gradValues.flat(), 'd loss / d values');
      tf.dispose([result.loss, gradient, ...Object.values(inputs)]);
    },
  );

  test('values = oldValues: the loss is half the masked mean squared error', () => {
    const values = tf.tensor2d([[1, 2], [3, 4]]);
    const returns = tf.tensor2d([[0, 0], [1, 9]]);
    const mask = tf.tensor2d([[1, 1], [1, 0]]);
    const result = valueLoss({ values, oldValues: values, returns, mask });
    expectClose([result.loss.dataSync()[0] as number], [0.5 * ((1 + 4 + 4) / 3)], 'loss');
    expect(result.metrics.clipFrac).toBe(0);
    tf.dispose([values, returns, mask, result.loss]);
  });

  test('checks options and shapes; does not leak', () => {
    const inputs = goldenTensors();
    expect(() => valueLoss(inputs, { clipRangeValue: 0 })).toThrow(ConfigError);
    const wrong = tf.zeros([3, 4]) as tf.Tensor2D;
    expect(() => valueLoss({ ...inputs, returns: wrong })).toThrow(ShapeError);
    const before = tf.memory().numTensors;
    for (let index = 0; index < 3; index += 1) valueLoss(inputs).loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([wrong, ...Object.values(inputs)]);
  });
});
