import { existsSync } from 'node:fs';
import { ConfigError, DistError } from '@rlhfjs/core';
import { StoreClient } from '../store/store_client';
import { StoreServer } from '../store/store_server';
import { glooUnavailableReason, isGlooAvailable } from './gloo_addon';
import { GlooEngine, resolveGlooEngineConfig } from './gloo_engine';

const SECRET = 'gloo-engine-test';

async function withStore<T>(body: (connect: () => Promise<StoreClient>) => Promise<T>): Promise<T> {
  const server = await StoreServer.start({ host: '127.0.0.1', port: 0, secret: SECRET, handshakeTimeoutMs: 5_000 });
  const clients: StoreClient[] = [];
  try {
    return await body(async () => {
      const client = await StoreClient.connect('127.0.0.1', server.port, SECRET, Date.now() + 5_000);
      clients.push(client);
      return client;
    });
  } finally {
    clients.forEach((client) => client.close());
    server.close();
  }
}

describe('resolveGlooEngineConfig', () => {
  it('fills the defaults and freezes the config', () => {
    const config = resolveGlooEngineConfig({ rank: 1, worldSize: 2 });
    expect(config).toEqual({ rank: 1, worldSize: 2, hostname: '127.0.0.1', keyPrefix: 'gloo', timeoutMs: 30_000, collectiveTimeoutMs: 300_000 });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('collects every problem into one ConfigError', () => {
    let caught: unknown;
    try {
      resolveGlooEngineConfig({ rank: 2, worldSize: 2, hostname: '', timeoutMs: 0, collectiveTimeoutMs: Number.NaN });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      'rank 2 must be < worldSize 2',
      'hostname must not be empty',
      'timeoutMs must be an integer > 0, got 0',
      'collectiveTimeoutMs must be an integer > 0, got NaN',
    ]);
    expect(() => resolveGlooEngineConfig({})).toThrow(/worldSize must be an integer >= 1, got undefined/);
  });
});

describe('GlooEngine of one rank', () => {
  it('is the identity, and rejects bad arguments with ConfigError without failing the engine', async () => {
    const engine = await GlooEngine.connect({ set: async () => undefined, get: async () => '', wait: async () => undefined }, { rank: 0, worldSize: 1 });
    const buffer = Float32Array.of(1.5, -2);
    await expect(engine.allReduce(buffer, 'mean')).resolves.toEqual(Float32Array.of(1.5, -2));
    await expect(engine.allReduce(new Int32Array(2) as unknown as Float32Array)).rejects.toThrow(
      /GlooEngine.allReduce: buffer must be a Float32Array or Float64Array, got Int32Array/,
    );
    await expect(engine.allReduce(buffer, 'prod' as never)).rejects.toBeInstanceOf(ConfigError);
    await expect(engine.broadcast(buffer, 1)).rejects.toThrow(/root must be an integer rank in \[0, 1\), got number 1/);
    await expect(engine.barrier()).resolves.toBeUndefined();
    expect(engine.abortReason).toBeUndefined();
    await engine.destroy();
    await expect(engine.barrier()).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('Gloo addon', () => {
  it('is built wherever libgloo-dev is installed (the install step builds it)', () => {
    const headers = existsSync('/usr/include/gloo/rendezvous/context.h');
    expect({ available: isGlooAvailable(), reason: glooUnavailableReason() }).toEqual(
      headers ? { available: true, reason: null } : { available: false, reason: expect.any(String) },
    );
  });

  it('connect() without the addon is DistError UNAVAILABLE, with it two ranks in this process all-reduce', async () => {
    await withStore(async (connect) => {
      const stores = [await connect(), await connect()];
      const joined = Promise.all(stores.map((store, rank) => GlooEngine.connect(store, { rank, worldSize: 2, keyPrefix: 'unit', timeoutMs: 10_000 })));
      if (!isGlooAvailable()) {
        await expect(joined).rejects.toMatchObject({ code: 'UNAVAILABLE' });
        return;
      }
      const engines = await joined;
      // [3] per rank: integers, so the sum is exact.
      const buffers = [Float32Array.of(1, 2, 3), Float32Array.of(10, 20, -30)];
      await Promise.all(engines.map((engine, rank) => engine.allReduce(buffers[rank]!, 'sum')));
      expect(buffers).toEqual([Float32Array.of(11, 22, -27), Float32Array.of(11, 22, -27)]);
      // A view into a larger array (DistributedReducer passes bucket.subarray(0, used)): only the view changes.
      const backing = [Float32Array.of(9, 1, 2, 9), Float32Array.of(8, 3, 4, 8)];
      await Promise.all(engines.map((engine, rank) => engine.allReduce(backing[rank]!.subarray(1, 3), 'max')));
      expect(backing).toEqual([Float32Array.of(9, 3, 4, 9), Float32Array.of(8, 3, 4, 8)]);
      const bytes = [Uint8Array.of(0, 0), Uint8Array.of(7, 255)];
      await Promise.all(engines.map((engine, rank) => engine.broadcast(bytes[rank]!, 1)));
      expect(bytes[0]).toEqual(Uint8Array.of(7, 255));
      await Promise.all(engines.map((engine) => engine.destroy()));
    });
  }, 30_000);

  it('a rank whose peer never joins fails with DistError RENDEZVOUS, and the event loop keeps running meanwhile', async () => {
    await withStore(async (connect) => {
      const store = await connect();
      let ticks = 0;
      const timer = setInterval(() => (ticks += 1), 20);
      let caught: unknown;
      try {
        await GlooEngine.connect(store, { rank: 0, worldSize: 2, keyPrefix: 'alone', timeoutMs: 800 });
      } catch (error) {
        caught = error;
      } finally {
        clearInterval(timer);
      }
      expect(caught).toBeInstanceOf(DistError);
      expect((caught as DistError).code).toBe(isGlooAvailable() ? 'RENDEZVOUS' : 'UNAVAILABLE');
      if (isGlooAvailable()) {
        expect((caught as DistError).message).toMatch(/GlooEngine.connect: rank 0 of 2: .*alone\/1/);
        expect(ticks).toBeGreaterThan(5);
      }
    });
  }, 30_000);
});
