import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/ppo_pieces.json';
import { KL_ESTIMATORS, klPerToken } from './kl_estimators';
import { expectClose } from '../../test/expect_close';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('klPerToken', () => {
  test.each(KL_ESTIMATORS.map((estimator) => [estimator]))('%s matches the PyTorch golden', (estimator) => {
    const logprobs = tf.tensor2d(golden.inputs.logprobs);
    const refLogprobs = tf.tensor2d(golden.inputs.refLogprobs);
    const kl = klPerToken(logprobs, refLogprobs, estimator);
    expect(kl.shape).toEqual(logprobs.shape);
    expectClose(kl.dataSync(), golden.kl[estimator].flat(), estimator);
    tf.dispose([logprobs, refLogprobs, kl]);
  });

  test('k1 = r, k2 = r²/2, k3 = e^(−r) − 1 + r for r = log π − log π_ref, and k3 ≥ 0', () => {
    const logprobs = tf.tensor2d([[-1, -2, -0.5]]);
    const refLogprobs = tf.tensor2d([[-1.5, -1, -0.5]]);
    const values = (estimator: 'k1' | 'k2' | 'k3'): Float32Array => {
      const kl = klPerToken(logprobs, refLogprobs, estimator);
      const data = kl.dataSync() as Float32Array;
      kl.dispose();
      return data;
    };
    expectClose(values('k1'), [0.5, -1, 0], 'k1');
    expectClose(values('k2'), [0.125, 0.5, 0], 'k2');
    expectClose(values('k3'), [Math.exp(-0.5) - 1 + 0.5, Math.exp(1) - 1 - 1, 0], 'k3');
    values('k3').forEach((value) => expect(value).toBeGreaterThanOrEqual(0));
    tf.dispose([logprobs, refLogprobs]);
  });

  test('mismatched shapes are a ShapeError; no leaks', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => klPerToken(a, b, 'k1')).toThrow(ShapeError);
    const before = tf.memory().numTensors;
    for (const estimator of KL_ESTIMATORS) klPerToken(a, a, estimator).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});
