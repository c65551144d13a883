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
    const channels = process.env['RLHFJS_GLOO_CHANNELS'] ? Number(process.env['RLHFJS_GLOO_CHANNELS']) : 2;
    expect(config).toEqual({ rank: 1, worldSize: 2, hostname: '127.0.0.1', keyPrefix: 'gloo', timeoutMs: 30_000, collectiveTimeoutMs: 300_000, channels });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('collects every problem into one ConfigError', () => {
    let caught: unknown;
    try {
      resolveGlooEngineConfig({ rank: 2, worldSize: 2, hostname: '', timeoutMs: 0, collectiveTimeoutMs: Number.NaN, channels: 0 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      'rank 2 must be < worldSize 2',
      'hostname must not be empty',
      'timeoutMs must be an integer > 0, got 0',
      'collectiveTimeoutMs must be an integer > 0, got NaN',
      'channels (or RLHFJS_GLOO_CHANNELS) must be an integer in [1, 16], got 0',
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

  it('an all-reduce of 4 MiB or more split over 3 channels sums and averages every element (odd length, a view)', async () => {
    if (!isGlooAvailable()) return expect(isGlooAvailable()).toBe(existsSync('/usr/include/gloo/rendezvous/context.h'));
    await withStore(async (connect) => {
      const stores = [await connect(), await connect()];
      const engines = await Promise.all(stores.map((store, rank) => GlooEngine.connect(store, { rank, worldSize: 2, keyPrefix: 'channels', timeoutMs: 10_000, channels: 3 })));
      const length = 1_234_567; // 4.7 MiB of float32, parts not a multiple of the 64-byte alignment
      const backing = [0, 1].map((rank) => Float32Array.from({ length: length + 2 }, (_, i) => (i % 1000) * (rank + 1) - rank * 7));
      const views = backing.map((array) => array.subarray(1, length + 1));
      await Promise.all(engines.map((engine, rank) => engine.allReduce(views[rank]!, 'sum')));
      for (let i = 1; i <= length; i++) {
        const expected = ((i % 1000) * 3 - 7);
        if (backing[0]![i] !== expected || backing[1]![i] !== expected) throw new Error(`element ${i}: ${backing[0]![i]}, ${backing[1]![i]}, expected ${expected}`);
      }
      expect([backing[0]![0], backing[1]![0], backing[0]![length + 1], backing[1]![length + 1]]).toEqual([0, -7, ((length + 1) % 1000), ((length + 1) % 1000) * 2 - 7]);
      await Promise.all(engines.map((engine) => engine.allReduce(views[engine.rank]!, 'mean')));
      expect(views[0]![10]).toBe(11 * 3 - 7); // views[j] is backing[j + 1]; both ranks held the same sums, so the mean is that value
      expect(views[1]![length - 1]).toBe(((length % 1000) * 3 - 7));
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
