// Issue 18 item 7 (dist wire), over real loopback sockets in this process: a peer above this rank's frame cap,
// collective argument checks, and the no-secret warning. (Store validation: src/store/store_server.test.ts;
// the 4 GB frame header: src/transport/frame_connection.test.ts.)
import { ConfigError, DistError } from '@rlhfjs/core';
import { initProcessGroup, noSecretWarning, type ProcessGroup, type ProcessGroupOptions } from '@rlhfjs/dist';
import { freePort } from '../helpers';

async function pair(extra: [ProcessGroupOptions, ProcessGroupOptions] = [{}, {}]): Promise<[ProcessGroup, ProcessGroup]> {
  const port = await freePort();
  const base: ProcessGroupOptions = {
    worldSize: 2,
    masterAddr: '127.0.0.1',
    masterPort: port,
    runId: `wire-${port}`,
    env: {},
    secret: 'wire-test-secret',
    timeoutMs: 10_000,
    collectiveTimeoutMs: 10_000,
    // the wire under test is the TCP mesh's: all-reduce must travel on it, not on Gloo
    engine: 'ring',
  };
  const groups = await Promise.all([0, 1].map((rank) => initProcessGroup({ ...base, rank, ...extra[rank] })));
  return groups as [ProcessGroup, ProcessGroup];
}

describe('dist wire hardening (issue 18 item 7)', () => {
  const open: Array<{ destroy: () => Promise<void> | void }> = [];
  afterEach(async () => {
    for (const entry of open.splice(0)) await entry.destroy();
  });

  it('a peer whose frames exceed this rank’s cap fails the group with PROTOCOL, not an allocation', async () => {
    // rank 1 is configured for 1 MiB star frames; rank 0 never needs more than 64 KiB, so it refuses them
    const groups = await pair([{ ringThresholdBytes: 64 * 1024, chunkBytes: 64 * 1024 }, { ringThresholdBytes: 4 * 1024 * 1024, chunkBytes: 1024 * 1024 }]);
    open.push(...groups);
    const outcomes = await Promise.all(groups.map((group) => group.allReduce(new Float32Array(128 * 1024)).catch((error: unknown) => error)));
    expect(outcomes[0]).toBeInstanceOf(DistError);
    expect((outcomes[0] as DistError).code).toBe('PROTOCOL');
    expect(outcomes[1]).toBeInstanceOf(DistError);
  }, 30_000);

  it('wrong collective arguments are a ConfigError up front, and the group keeps working', async () => {
    const groups = await pair();
    open.push(...groups);
    const [zero] = groups;
    const wrong = [
      () => zero.allReduce(new Float32Array(4), { op: 'sum' } as never),
      () => zero.allReduce([1, 2, 3] as never),
      () => zero.allReduce(new Int32Array(3) as never, 'sum'),
      () => zero.reduceScatter(new Float32Array(4), 'avg' as never),
      () => zero.broadcast(new Float32Array(4), 2),
      () => zero.broadcast(new Float32Array(4), 0.5),
      () => zero.broadcastObject({}, -1),
      () => zero.allGather(new Float64Array(2) as never),
      () => zero.allGatherObject({ big: BigInt(1) }),
    ];
    for (const call of wrong) {
      const error = await call().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/rank 0/);
    }
    expect(((await wrong[0]?.().catch((caught: unknown) => caught)) as Error).message).toMatch(/op must be one of 'sum', 'mean', 'max', 'min', got \{"op":"sum"\}/);
    const results = await Promise.all(groups.map((group) => group.allReduce(new Float32Array([group.rank + 1, 5]), 'sum')));
    expect(results.map((result) => Array.from(result))).toEqual([
      [3, 10],
      [3, 10],
    ]);
  }, 30_000);

  it('without RLHFJS_DIST_SECRET the job warns once, loudly; with a secret it does not', async () => {
    expect(noSecretWarning({ secretSource: 'env', worldSize: 4, runId: 'r' })).toBeUndefined();
    expect(noSecretWarning({ secretSource: 'derived', worldSize: 1, runId: 'r' })).toBeUndefined();
    expect(noSecretWarning({ secretSource: 'derived', worldSize: 2, runId: 'job-7' })).toMatch(/RLHFJS_DIST_SECRET is not set[\s\S]*"job-7"/);
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const first = await pair([{ secret: undefined }, { secret: undefined }]);
      open.push(...first);
      const second = await pair([{ secret: undefined }, { secret: undefined }]);
      open.push(...second);
      const sums = await Promise.all(first.map((group) => group.allReduce(new Float32Array([1]))));
      expect(sums.map((sum) => sum[0])).toEqual([2, 2]);
    } finally {
      spy.mockRestore();
    }
    expect(written.filter((text) => text.includes('RLHFJS_DIST_SECRET is not set'))).toHaveLength(1);
  }, 30_000);
});
