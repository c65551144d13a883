import * as tf from '@tensorflow/tfjs';
import { BackendError } from '../errors/errors';
import { backendCapabilities } from './capabilities';
import { initBackend } from './init_backend';

describe('initBackend', () => {
  const saved = process.env['RLHFJS_BACKEND'];
  afterEach(() => {
    if (saved === undefined) delete process.env['RLHFJS_BACKEND'];
    else process.env['RLHFJS_BACKEND'] = saved;
  });

  it('RLHFJS_BACKEND forces a backend and the capabilities follow it', async () => {
    process.env['RLHFJS_BACKEND'] = 'wasm';
    expect(await initBackend()).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(backendCapabilities().fastBatchedMatMul).toBe(false);
    process.env['RLHFJS_BACKEND'] = 'cpu';
    expect(await initBackend()).toBe('cpu');
    expect(backendCapabilities().fastBatchedMatMul).toBe(true);
  });

  it('fails clearly for an unknown or missing backend', async () => {
    await expect(initBackend({ backend: 'gpu-please' })).rejects.toThrow(BackendError);
    await expect(initBackend({ backend: 'gpu-please' })).rejects.toThrow(/unknown backend "gpu-please"/);
    // tfjs-node cannot be installed here, so forcing it must say it could not be loaded
    await expect(initBackend({ backend: 'tensorflow' })).rejects.toThrow(/could not be loaded/);
  });

  it('picks the fastest installed backend when nothing is forced', async () => {
    delete process.env['RLHFJS_BACKEND'];
    const chosen = await initBackend();
    expect(['native', 'wasm']).toContain(chosen);
    await tf.setBackend('cpu');
  });
});
