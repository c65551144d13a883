import * as tf from '@tensorflow/tfjs';

import { ConfigError, ShapeError } from '../errors/errors';
import { GradientAccumulator } from './gradient_accumulator';

describe('GradientAccumulator', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('sums micro-batch gradients, keeping them valid after the caller disposes its own', () => {
    const accumulator = new GradientAccumulator();
    const first = { w: tf.tensor2d([[1, 2]]), b: tf.tensor1d([0.5]) };
    accumulator.add(first);
    tf.dispose(first); // the accumulator must not depend on the caller's tensors
    const second = { w: tf.tensor2d([[10, 20]]) }; // b missing here
    accumulator.add(second);
    const third = { w: tf.tensor2d([[100, 200]]), b: tf.tensor1d([0.25]) };
    accumulator.add(third);
    expect(accumulator.count).toBe(3);
    expect(second.w.isDisposed).toBe(false);

    const sums = accumulator.take();
    expect(Object.keys(sums)).toEqual(['w', 'b']);
    expect(Array.from(sums.w!.dataSync())).toEqual([111, 222]);
    expect(sums.w!.shape).toEqual([1, 2]);
    expect(Array.from(sums.b!.dataSync())).toEqual([0.75]);
    expect(accumulator.count).toBe(0);
    expect(() => accumulator.take()).toThrow(ConfigError);
    tf.dispose([second, third, sums]);
  });

  it('rejects a shape change for a name without changing the sums', () => {
    const accumulator = new GradientAccumulator();
    const first = { w: tf.tensor2d([[1, 2]]), b: tf.tensor1d([1]) };
    accumulator.add(first);
    const wrong = { b: tf.tensor1d([1]), w: tf.tensor2d([[1], [2]]) };
    expect(() => accumulator.add(wrong)).toThrow(ShapeError);
    expect(() => accumulator.add(wrong)).toThrow(/"w".*\[2, 1\].*\[1, 2\]/);
    const sums = accumulator.take();
    expect(Array.from(sums.b!.dataSync())).toEqual([1]);
    tf.dispose([first, wrong, sums]);
  });

  it('does not leak across repeated accumulate/take cycles, and dispose frees what was not taken', () => {
    const grads = { w: tf.randomNormal([3, 4]), b: tf.randomNormal([4]) };
    const accumulator = new GradientAccumulator();
    const before = tf.memory().numTensors;
    for (let cycle = 0; cycle < 3; cycle += 1) {
      for (let micro = 0; micro < 4; micro += 1) {
        accumulator.add(grads);
      }
      expect(tf.memory().numTensors).toBe(before + 2);
      tf.dispose(accumulator.take());
      expect(tf.memory().numTensors).toBe(before);
    }
    accumulator.add(grads);
    accumulator.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(grads);
  });
});
