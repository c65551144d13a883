import { ConfigError } from '@rlhfjs/core';
import { StoreClient } from '../store/store_client';
import { StoreServer } from '../store/store_server';
import { connectDefaultEngine, resolveEngineChoice } from './default_engine';
import { isGlooAvailable } from './gloo_addon';

const SECRET = 'default-engine-test';

describe('resolveEngineChoice', () => {
  it('takes the option, else RLHFJS_DIST_ENGINE, else auto', () => {
    expect(resolveEngineChoice(undefined, {})).toBe('auto');
    expect(resolveEngineChoice(undefined, { RLHFJS_DIST_ENGINE: 'ring' })).toBe('ring');
    expect(resolveEngineChoice('gloo', { RLHFJS_DIST_ENGINE: 'ring' })).toBe('gloo');
  });

  it('names the variable and the bad value', () => {
    expect(() => resolveEngineChoice(undefined, { RLHFJS_DIST_ENGINE: 'nccl' })).toThrow(ConfigError);
    expect(() => resolveEngineChoice(undefined, { RLHFJS_DIST_ENGINE: 'nccl' })).toThrow(/RLHFJS_DIST_ENGINE must be one of auto, gloo, ring, got "nccl"/);
    expect(() => resolveEngineChoice('mpi' as never, {})).toThrow(/engine must be one of auto, gloo, ring, got "mpi"/);
  });
});

describe('connectDefaultEngine', () => {
  const settings = { runId: 'default-engine', restartCount: 0, hostname: '127.0.0.1', timeoutMs: 10_000, collectiveTimeoutMs: 10_000 };

  it('is the ring (undefined) for one rank or engine ring, and Gloo by default where the addon is built', async () => {
    const server = await StoreServer.start({ host: '127.0.0.1', port: 0, secret: SECRET, handshakeTimeoutMs: 5_000 });
    const stores = await Promise.all([0, 1].map(() => StoreClient.connect('127.0.0.1', server.port, SECRET, Date.now() + 5_000)));
    try {
      await expect(connectDefaultEngine(stores[0]!, { ...settings, rank: 0, worldSize: 1 })).resolves.toBeUndefined();
      await expect(connectDefaultEngine(stores[0]!, { ...settings, rank: 0, worldSize: 2, engine: 'ring' })).resolves.toBeUndefined();
      const engines = await Promise.all(stores.map((store, rank) => connectDefaultEngine(store, { ...settings, rank, worldSize: 2 })));
      if (!isGlooAvailable()) {
        expect(engines).toEqual([undefined, undefined]);
        await expect(connectDefaultEngine(stores[0]!, { ...settings, rank: 0, worldSize: 2, engine: 'gloo' })).rejects.toThrow(ConfigError);
        return;
      }
      expect(engines.map((engine) => engine?.name)).toEqual(['gloo', 'gloo']);
      const buffers = [Float64Array.of(0.25, -1), Float64Array.of(0.5, 4)];
      await Promise.all(engines.map((engine, rank) => engine!.allReduce(buffers[rank]!, 'mean')));
      expect(buffers).toEqual([Float64Array.of(0.375, 1.5), Float64Array.of(0.375, 1.5)]);
      await Promise.all(engines.map((engine) => engine!.destroy()));
    } finally {
      stores.forEach((store) => store.close());
      server.close();
    }
  }, 30_000);
});
