import * as tf from '@tensorflow/tfjs';

import { describeNative, seeded } from '../../test/compare_backends';
import { kvCacheWriteKernelName } from './kv_cache_kernels';

/** The write as plain tfjs ops: slices of the buffer around the update, concatenated. [B, H, C, d] */
function referenceWrite(buffer: tf.Tensor4D, update: tf.Tensor4D, position: number): tf.Tensor4D {
  const [batch, heads, capacity, dim] = buffer.shape;
  const length = update.shape[2];
  return tf.tidy(() => tf.concat([
    tf.slice(buffer, [0, 0, 0, 0], [batch, heads, position, dim]), // [B, H, p, d]
    update,
    tf.slice(buffer, [0, 0, position + length, 0], [batch, heads, capacity - position - length, dim]), // [B, H, rest, d]
  ], 2) as tf.Tensor4D);
}

function write(buffer: tf.Tensor4D, update: tf.Tensor4D, position: number): tf.Tensor4D {
  return tf.engine().runKernel(kvCacheWriteKernelName, { cache: buffer, update }, { position }) as tf.Tensor4D;
}

describeNative('native KV cache kernels')('native KV cache kernels', () => {
  beforeAll(async () => {
    await tf.setBackend('native');
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('writes a prefill block and then single tokens in place, equal to the slice+concat reference', () => {
    const before = tf.memory();
    const buffer = tf.zeros([2, 3, 7, 4]) as tf.Tensor4D; // [B, H, C, d]
    let expected = tf.zeros([2, 3, 7, 4]) as tf.Tensor4D;
    let cache = buffer;
    const steps: Array<[number, number]> = [[0, 4], [4, 1], [5, 1], [6, 1]]; // (position, T)
    for (const [position, length] of steps) {
      const update = seeded([2, 3, length, 4], 10 + position) as tf.Tensor4D;
      const next = write(cache, update, position);
      const nextExpected = referenceWrite(expected, update, position);
      // the result is the same storage: no copy of the cache
      expect(next.dataId).toBe(buffer.dataId);
      expect(Array.from(next.dataSync())).toEqual(Array.from(nextExpected.dataSync()));
      if (cache !== buffer) cache.dispose();
      expected.dispose();
      update.dispose();
      cache = next;
      expected = nextExpected;
    }
    buffer.dispose();
    // the buffer lives while the last result does
    expect(cache.shape).toEqual([2, 3, 7, 4]);
    expect(Array.from(cache.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.dispose([cache, expected]);
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
  });

  it('rejects an update that does not fit, naming both shapes', () => {
    tf.tidy(() => {
      const buffer = tf.zeros([1, 2, 4, 3]) as tf.Tensor4D;
      expect(() => write(buffer, tf.zeros([1, 2, 2, 3]) as tf.Tensor4D, 3)).toThrow(/update \[1,2,2,3\] does not fit cache \[1,2,4,3\] at position 3/);
      expect(() => write(buffer, tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, 0)).toThrow(/does not fit/);
    });
  });
});
