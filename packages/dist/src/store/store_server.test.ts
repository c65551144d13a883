import { connect, type Socket } from 'node:net';
import { connectHandshake } from '../transport/auth';
import { StoreClient } from './store_client';
import { StoreServer } from './store_server';

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

describe('StoreServer validates every request (issue 18 item 7)', () => {
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

  it('add refuses a key holding a non-counter and a sum past 2^53, leaving the value as it was (found by npm run hostile)', async () => {
    const store = await StoreServer.start({ host: '127.0.0.1', port: 0, secret: 's4', handshakeTimeoutMs: 5_000 });
    open.push({ destroy: () => store.close() });
    const client = await StoreClient.connect('127.0.0.1', store.port, 's4', Date.now() + 5_000);
    open.push({ destroy: () => client.close() });
    await client.set('run/0/addr/0', '127.0.0.1:5000');
    await expect(client.add('run/0/addr/0', 1)).rejects.toThrow(/add to "run\/0\/addr\/0" refused: .*not an integer counter; left unchanged/);
    expect(await client.get('run/0/addr/0', 1_000)).toBe('127.0.0.1:5000');
    for (const text of ['0x10', ' 7', '1e3', '']) {
      await client.set('odd', text);
      await expect(client.add('odd', 1)).rejects.toThrow(/not an integer counter/);
      expect(await client.get('odd', 1_000)).toBe(text);
    }
    expect(await client.add('big', Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    await expect(client.add('big', 1)).rejects.toThrow(/past 2\^53; left unchanged/);
    expect(await client.add('big', -Number.MAX_SAFE_INTEGER)).toBe(0);
    await client.set('counter', '-41');
    expect(await client.add('counter', 42)).toBe(1);
  }, 30_000);

  it('a client that disconnects while its get/wait is pending leaves no timer or waiter behind', async () => {
    const store = await StoreServer.start({ host: '127.0.0.1', port: 0, secret: 's5', handshakeTimeoutMs: 5_000 });
    open.push({ destroy: () => store.close() });
    const leaving = await StoreClient.connect('127.0.0.1', store.port, 's5', Date.now() + 5_000);
    const pendingGet = leaving.get('never', 600_000).catch((error: unknown) => error);
    const pendingWait = leaving.wait(['never', 'nor-this'], 600_000).catch((error: unknown) => error);
    const staying = await StoreClient.connect('127.0.0.1', store.port, 's5', Date.now() + 5_000);
    open.push({ destroy: () => staying.close() });
    const answered = staying.get('later', 5_000);
    for (let i = 0; i < 100 && store.pendingRequests < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.pendingRequests).toBe(3);
    leaving.close();
    await Promise.all([pendingGet, pendingWait]);
    for (let i = 0; i < 100 && store.pendingRequests > 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.pendingRequests).toBe(1); // only the connected client's get is still waiting
    await staying.set('later', 'v');
    expect(await answered).toBe('v');
    expect(store.pendingRequests).toBe(0);
    // the store keeps serving after timeouts too, and a timed-out request is no longer pending
    await expect(staying.get('absent', 50)).rejects.toThrow();
    expect(store.pendingRequests).toBe(0);
  }, 30_000);

});
