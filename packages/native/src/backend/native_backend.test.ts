import * as tf from '@tensorflow/tfjs';

import { isNativeAvailable, nativeInfo, nativeKernelNames } from '../index';
import { describeNative, seeded } from '../../test/compare_backends';

describeNative('native backend')('native backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('registers as "native" and reports OpenBLAS', async () => {
    expect(isNativeAvailable()).toBe(true);
    expect(await tf.setBackend('native')).toBe(true);
    expect(tf.getBackend()).toBe('native');
    const info = nativeInfo();
    expect(info.openblasConfig).toMatch(/OpenBLAS/);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(nativeKernelNames).toEqual(expect.arrayContaining(['BatchMatMul', '_FusedMatMul', 'Softmax', 'GatherV2']));
    // every cpu kernel is available under native
    for (const kernel of tf.getKernelsForBackend('cpu')) expect(tf.getKernel(kernel.kernelName, 'native')).toBeDefined();
  });

  it('never recycles a buffer the user has read or a slice still views', async () => {
    await tf.setBackend('native');
    const big = [64, 128]; // above the pooling threshold
    const source = tf.exp(seeded(big, 1)); // native output, pooled when disposed
    const read = source.dataSync();
    const snapshot = Float32Array.from(read);
    const row = tf.slice(source, [0, 0], [1, 128]);
    const rowSnapshot = Float32Array.from(row.dataSync());
    source.dispose();
    for (let i = 0; i < 5; i++) tf.tidy(() => { tf.mul(tf.exp(seeded(big, 2 + i)), 3).dataSync(); });
    expect(Array.from(read)).toEqual(Array.from(snapshot));
    expect(Array.from(row.dataSync())).toEqual(Array.from(rowSnapshot));
    row.dispose();
  });

  it('recycles the buffers of disposed intermediates', async () => {
    await tf.setBackend('native');
    const backend = tf.backend() as unknown as { pool: { bytes: number } };
    const x = seeded([64, 128], 9);
    tf.tidy(() => { tf.exp(tf.exp(x)); });
    expect(backend.pool.bytes).toBeGreaterThan(0);
    x.dispose();
  });
});
