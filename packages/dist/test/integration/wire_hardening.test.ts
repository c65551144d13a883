// Issue 18 item 7 (dist wire), over real loopback sockets in this process: frame caps, store message
// validation, collective argument checks, and the no-secret warning.
import { connect, createServer, type Socket } from 'node:net';
import { ConfigError, DistError } from '@rlhfjs/core';
import { initProcessGroup, noSecretWarning, StoreClient, StoreServer, type ProcessGroup, type ProcessGroupOptions } from '@rlhfjs/dist';
import { connectHandshake } from '../../src/transport/auth';
import { BufferPool } from '../../src/transport/buffer_pool';
import { FRAME_HEADER_BYTES, FrameConnection } from '../../src/transport/frame_connection';
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
  };
  const groups = await Promise.all([0, 1].map((rank) => initProcessGroup({ ...base, rank, ...extra[rank] })));
  return groups as [ProcessGroup, ProcessGroup];
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Send raw lines on an authenticated store connection; collect the JSON replies until `count` or close. */
async function rawStoreExchange(port: number, secret: string, lines: string[], count: number): Promise<{ replies: unknown[]; closed: boolean }> {
  const socket = await connected(port);
  await connectHandshake(socket, secret, 5_000, 'test');
  return new Promise((resolve) => {
    const replies: unknown[] = [];
    let pending = '';
    let closed = false;
    const done = (): void => resolve({ replies, closed });
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, 3_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      replies.push(...parts.map((part) => JSON.parse(part) as unknown));
      if (replies.length >= count) {
        clearTimeout(timer);
        socket.destroy();
        done();
      }
    });
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      done();
    });
    socket.on('error', () => undefined);
    socket.resume();
    for (const line of lines) socket.write(line);
  });
}

describe('dist wire hardening (issue 18 item 7)', () => {
  const open: Array<{ destroy: () => Promise<void> | void }> = [];
  afterEach(async () => {
    for (const entry of open.splice(0)) await entry.destroy();
  });

  it('the store server answers malformed requests with errors, drops unreadable connections, and keeps serving', async () => {
    const store = await StoreServer.start({ host: '127.0.0.1', port: 0, secret: 's3', handshakeTimeoutMs: 5_000 });
    open.push({ destroy: () => store.close() });
    // JSON null (crashed the server before), an array, a number: no id to answer, so the connection is dropped
    for (const line of ['null\n', '[]\n', '42\n', 'not json\n']) {
      const result = await rawStoreExchange(store.port, 's3', [line], 1);
      expect([line, result.closed, result.replies]).toEqual([line, true, []]);
    }
    // well-formed ids with wrong fields: each answered ok: false, naming the problem
    const bad = [
      { id: 1, command: 'set', key: 5, value: 'x' },
      { id: 2, command: 'set', key: 'k', value: null },
      { id: 3, command: 'get', key: 'k', timeoutMs: 'soon' },
      { id: 4, command: 'wait', keys: null, timeoutMs: 1 },
      { id: 5, command: 'wait', keys: ['a', 7], timeoutMs: 1 },
      { id: 6, command: 'add', key: 'k', delta: 'one' },
      { id: 7, command: 'get', key: 'k', timeoutMs: 1e300 },
      { id: 8, command: 'drop tables' },
      { id: 9, command: 'set', key: 'k'.repeat(5000), value: 'x' },
    ];
    const result = await rawStoreExchange(store.port, 's3', bad.map((entry) => `${JSON.stringify(entry)}\n`), bad.length);
    expect(result.replies).toHaveLength(bad.length);
    for (const [index, reply] of (result.replies as Array<{ id: number; ok: boolean; error: string }>).entries()) {
      expect([reply.id, reply.ok, reply.error]).toEqual([bad[index]?.id, false, expect.stringMatching(/^invalid request: /)]);
    }
    // a line longer than the 1 MiB cap closes that connection (nothing is buffered without bound)
    const long = await rawStoreExchange(store.port, 's3', ['{"id":1,"command":"set","key":"k","value":"' + 'x'.repeat(1_100_000)], 1);
    expect(long.closed).toBe(true);
    // the server is alive and correct for a well-behaved client
    const client = await StoreClient.connect('127.0.0.1', store.port, 's3', Date.now() + 5_000);
    open.push({ destroy: () => client.close() });
    await client.set('k', 'v');
    expect(await client.get('k', 1_000)).toBe('v');
    expect(await client.add('n', 2)).toBe(2);
  }, 30_000);

  it('a frame header announcing 4 GB is refused before any allocation', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ destroy: () => void server.close() });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const sender = await connected((server.address() as { port: number }).port);
    const receiver = await accepted;
    open.push({ destroy: () => void sender.destroy() });
    const taken: number[] = [];
    class RecordingPool extends BufferPool {
      override take(byteCount: number): Buffer {
        taken.push(byteCount);
        return super.take(byteCount);
      }
    }
    const errors: string[] = [];
    const connection = new FrameConnection(receiver, new RecordingPool(), (message) => errors.push(message), 1024 * 1024);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(0x524a4446, 0); // magic
    header.writeUInt32LE(2, 4);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(0xfffffff0, 12); // ~4 GB
    sender.write(header);
    const failure = await connection.next().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DistError);
    expect((failure as DistError).code).toBe('PROTOCOL');
    expect((failure as Error).message).toMatch(/4294967280 payload bytes, above the 1048576/);
    expect(errors).toHaveLength(1);
    expect(taken).toEqual([]);
    // sending above the cap is refused on this side too
    await expect(new FrameConnection(sender, new BufferPool(), () => undefined, 16).send(2, 1, new Uint8Array(17))).rejects.toThrow(/above the 16-byte frame limit/);
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
