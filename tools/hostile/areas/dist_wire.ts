// The dist wire area: hostile bytes sent over real loopback TCP sockets (127.0.0.1 only) to (a) our rendezvous
// store server, (b) a process-group rank's data port while the group forms, and (c) hostile collective arguments.
// A case ends as a typed error when the server refused the input (an error reply or a closed connection) and still
// serves: a follow-up valid request succeeds (the store answers, the group forms and all-reduces correctly).
// A canary key set before each store attack must read back unchanged (else: data lost). No answer and no close
// within the area's timeout is a hang; a dead server or an untyped error is a crash.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ConfigError, DistError, RlhfError } from '@rlhfjs/core';
import { initProcessGroup, StoreClient, StoreServer, type ProcessGroup } from '@rlhfjs/dist';
import type { HostileArea, HostileCase } from '../hostile_area';
import { Random } from '../random';

const HOST = '127.0.0.1';
const SECRET = 'hostile-wire-secret';
/** How long an attack connection may stay open after we half-close it before the case counts as a hang. */
const CLOSE_WAIT_MS = 4_000;
const STORE_MAGIC = Buffer.from('RLHFJS01', 'latin1');
const FRAME_MAGIC = 0x524a4446;

/** How the attacker plays the HMAC handshake: correctly, not at all, a wrong secret, garbage, half of it, or connects and stays silent (never ends). */
type Auth = 'valid' | 'none' | 'bad-mac' | 'garbage' | 'truncated' | 'silent';

type Attack =
  /** Authenticated store connection, then the payload; `lines`: complete lines the server should answer or close on. */
  | { readonly kind: 'store'; readonly auth: Auth; readonly connections?: number }
  /** A rank's data port while the group forms. */
  | { readonly kind: 'peer'; readonly auth: Auth; readonly connections?: number }
  /** A collective call with hostile arguments on a formed group. */
  | { readonly kind: 'collective'; readonly call: (group: ProcessGroup) => Promise<unknown> };

const ATTACKS = new Map<string, Attack>();

function storeCase(name: string, expect: HostileCase['expect'], payload: Uint8Array | string, auth: Auth = 'valid', connections = 1): HostileCase {
  ATTACKS.set(`store: ${name}`, { kind: 'store', auth, connections });
  return { name: `store: ${name}`, expect, files: { 'payload.bin': typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload } };
}

function peerCase(name: string, payload: Uint8Array, auth: Auth = 'valid', connections = 1): HostileCase {
  ATTACKS.set(`peer: ${name}`, { kind: 'peer', auth, connections });
  return { name: `peer: ${name}`, expect: 'refuse', files: { 'payload.bin': payload } };
}

function collectiveCase(name: string, call: (group: ProcessGroup) => Promise<unknown>): HostileCase {
  ATTACKS.set(`collective: ${name}`, { kind: 'collective', call });
  return { name: `collective: ${name}`, expect: 'refuse', files: {} };
}

const line = (value: unknown): string => `${JSON.stringify(value)}\n`;

function frame(op: number, seq: number, announced: number, payload: Uint8Array = new Uint8Array(0), magic = FRAME_MAGIC): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(magic >>> 0, 0);
  header.writeUInt32LE(op >>> 0, 4);
  header.writeUInt32LE(seq >>> 0, 8);
  header.writeUInt32LE(announced >>> 0, 12);
  return Buffer.concat([header, payload]);
}

const HELLO = 0xf001;

function cases(seed: number): HostileCase[] {
  ATTACKS.clear();
  const random = new Random(seed);
  const garbage = (length: number): Buffer => Buffer.from(Array.from({ length }, () => random.below(256)));
  const list: HostileCase[] = [
    // a sample of every kind first (run_cases.test.ts runs these)
    storeCase('valid set/get/add/wait (control)', 'accept', [
      line({ id: 1, command: 'set', key: 'a', value: 'b' }),
      line({ id: 2, command: 'get', key: 'a', timeoutMs: 100 }),
      line({ id: 3, command: 'add', key: 'n', delta: 2 }),
      line({ id: 4, command: 'wait', keys: ['a'], timeoutMs: 100 }),
    ].join('')),
    storeCase('JSON null', 'refuse', 'null\n'),
    storeCase('add to the canary (a non-numeric value)', 'refuse', line({ id: 1, command: 'add', key: '@canary', delta: 1 })),
    peerCase('frame announcing 4 GB after the handshake', frame(HELLO, 0, 0xffffffff)),
    collectiveCase('allReduce op "avg"', (group) => group.allReduce(new Float32Array(4), 'avg' as never)),
    storeCase('bad HMAC, then a set of the canary', 'refuse', line({ id: 1, command: 'set', key: '@canary', value: 'pwned' }), 'bad-mac'),
    storeCase('a silent connection, never ended (handshake timeout)', 'refuse', '', 'silent'),
    peerCase('hello with rank NaN (JSON text)', frame(HELLO, 0, 0, Buffer.from('{"rank":NaN,"prefix":"@prefix"}'))),
    storeCase('a JSON array', 'refuse', '[1,2,3]\n'),
    storeCase('a number', 'refuse', '42\n'),
    storeCase('not JSON', 'refuse', 'set k v\n'),
    storeCase('a string', 'refuse', '"set"\n'),
    storeCase('id negative', 'refuse', line({ id: -1, command: 'set', key: 'k', value: 'v' })),
    storeCase('id NaN-like string', 'refuse', line({ id: 'NaN', command: 'set', key: 'k', value: 'v' })),
    storeCase('id 1e300', 'refuse', '{"id":1e300,"command":"set","key":"k","value":"v"}\n'),
    storeCase('key a number', 'refuse', line({ id: 1, command: 'set', key: 5, value: 'v' })),
    storeCase('key an object', 'refuse', line({ id: 1, command: 'set', key: { a: 1 }, value: 'v' })),
    storeCase('value null', 'refuse', line({ id: 1, command: 'set', key: 'k', value: null })),
    storeCase('value an array', 'refuse', line({ id: 1, command: 'set', key: 'k', value: ['v'] })),
    storeCase('empty key', 'refuse', line({ id: 1, command: 'set', key: '', value: 'v' })),
    storeCase('add delta a string', 'refuse', line({ id: 1, command: 'add', key: 'n', delta: '1' })),
    storeCase('add delta 0.5', 'refuse', line({ id: 1, command: 'add', key: 'n', delta: 0.5 })),
    storeCase('add delta 1e300', 'refuse', '{"id":1,"command":"add","key":"n","delta":1e300}\n'),
    storeCase('add past 2^53', 'refuse', [line({ id: 1, command: 'add', key: 'big', delta: Number.MAX_SAFE_INTEGER }), line({ id: 2, command: 'add', key: 'big', delta: Number.MAX_SAFE_INTEGER })].join('')),
    storeCase('get timeoutMs a string', 'refuse', line({ id: 1, command: 'get', key: 'k', timeoutMs: 'soon' })),
    storeCase('get timeoutMs negative', 'refuse', line({ id: 1, command: 'get', key: 'k', timeoutMs: -5 })),
    storeCase('get timeoutMs 1e300', 'refuse', '{"id":1,"command":"get","key":"k","timeoutMs":1e300}\n'),
    storeCase('wait keys null', 'refuse', line({ id: 1, command: 'wait', keys: null, timeoutMs: 1 })),
    storeCase('wait keys with a number', 'refuse', line({ id: 1, command: 'wait', keys: ['a', 7], timeoutMs: 1 })),
    storeCase('wait on 65537 keys', 'refuse', line({ id: 1, command: 'wait', keys: Array.from({ length: 65_537 }, (_, index) => String(index % 10)), timeoutMs: 1 })),
    storeCase('unknown command', 'refuse', line({ id: 1, command: 'delete', key: '@canary' })),
    storeCase('command missing', 'refuse', line({ id: 1, key: 'k', value: 'v' })),
    storeCase('command __proto__', 'refuse', line({ id: 1, command: '__proto__', key: 'k' })),
    storeCase('key of 5000 characters', 'refuse', line({ id: 1, command: 'set', key: 'k'.repeat(5000), value: 'v' })),
    storeCase('value of 900 KB (under the line cap)', 'either', line({ id: 1, command: 'set', key: 'big-value', value: 'x'.repeat(900_000) })),
    storeCase('a line of 2 MB (over the cap)', 'refuse', line({ id: 1, command: 'set', key: 'k', value: 'x'.repeat(2_000_000) })),
    storeCase('2 MB with no newline', 'refuse', 'y'.repeat(2_000_000)),
    storeCase('deeply nested JSON (200000 levels)', 'refuse', `${'['.repeat(200_000)}${']'.repeat(200_000)}\n`),
    storeCase('invalid UTF-8 in a value', 'either', Buffer.concat([Buffer.from('{"id":1,"command":"set","key":"u","value":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n')])),
    storeCase('invalid UTF-8 in the syntax', 'refuse', Buffer.concat([Buffer.from('{"id":1,'), Buffer.from([0xff, 0xc0, 0x80]), Buffer.from('"command":"set"}\n')])),
    storeCase('truncated line (then end of stream)', 'refuse', '{"id":1,"command":"set","key":"@canary","val'),
    storeCase('binary garbage', 'refuse', garbage(4096)),
    storeCase('binary garbage with newlines', 'refuse', Buffer.concat([garbage(500), Buffer.from('\n'), garbage(500), Buffer.from('\n')])),
    storeCase('no handshake, JSON straight away', 'refuse', line({ id: 1, command: 'set', key: '@canary', value: 'pwned' }), 'none'),
    storeCase('garbage handshake', 'refuse', garbage(200), 'garbage'),
    storeCase('truncated handshake (half a nonce)', 'refuse', '', 'truncated'),
    storeCase('50 silent connections at once', 'refuse', '', 'silent', 50),
    storeCase('200 connections at once, each garbage', 'refuse', garbage(100), 'valid', 200),
    storeCase('100 connections at once, no handshake', 'refuse', line({ id: 1, command: 'set', key: '@canary', value: 'pwned' }), 'none', 100),
    storeCase('many requests on one connection (2000 sets)', 'either', Array.from({ length: 2000 }, (_, index) => line({ id: index, command: 'set', key: `k${index % 16}`, value: String(index) })).join('')),
    // (b) a rank's data port during rendezvous
    peerCase('wrong greeting answer (garbage instead of nonce+HMAC)', garbage(64), 'garbage'),
    peerCase('bad HMAC', garbage(0), 'bad-mac'),
    peerCase('truncated handshake', garbage(0), 'truncated'),
    peerCase('nothing sent, just connect and end', garbage(0), 'none'),
    peerCase('frame announcing 4 GB - 1 as a data op', frame(1, 0, 0xfffffffe)),
    peerCase('bad frame magic', frame(HELLO, 0, 4, Buffer.from('abcd'), 0xdeadbeef)),
    peerCase('truncated frame header', frame(HELLO, 0, 8).subarray(0, 9)),
    peerCase('truncated frame payload', frame(HELLO, 0, 1000, Buffer.alloc(10))),
    peerCase('hello with rank -1', frame(HELLO, 0, 0, Buffer.from(JSON.stringify({ rank: -1, prefix: '@prefix' })))),
    peerCase('hello with rank 1e309', frame(HELLO, 0, 0, Buffer.from('{"rank":1e309,"prefix":"@prefix"}'))),
    peerCase('hello with rank "1"', frame(HELLO, 0, 0, Buffer.from(JSON.stringify({ rank: '1', prefix: '@prefix' })))),
    peerCase('hello with a wrong prefix', frame(HELLO, 0, 0, Buffer.from(JSON.stringify({ rank: 1, prefix: 'other/0' })))),
    peerCase('hello as null', frame(HELLO, 0, 0, Buffer.from('null'))),
    peerCase('garbage after the handshake', garbage(3000)),
    peerCase('20 connections with garbage handshakes', garbage(64), 'garbage', 20),
    // (c) collective arguments
    collectiveCase('allReduce op an object', (group) => group.allReduce(new Float32Array(4), { op: 'sum' } as never)),
    collectiveCase('allReduce on a number array', (group) => group.allReduce([1, 2, 3] as never)),
    collectiveCase('allReduce on an Int32Array', (group) => group.allReduce(new Int32Array(3) as never, 'sum')),
    collectiveCase('allReduce on null', (group) => group.allReduce(null as never)),
    collectiveCase('allReduce on a string', (group) => group.allReduce('1,2,3' as never)),
    collectiveCase('reduceScatter op "prod"', (group) => group.reduceScatter(new Float32Array(4), 'prod' as never)),
    collectiveCase('broadcast from rank 2 of 2', (group) => group.broadcast(new Float32Array(4), 2)),
    collectiveCase('broadcast from rank NaN', (group) => group.broadcast(new Float32Array(4), Number.NaN)),
    collectiveCase('broadcast from rank -1', (group) => group.broadcast(new Float32Array(4), -1)),
    collectiveCase('broadcastObject from rank 0.5', (group) => group.broadcastObject({}, 0.5)),
    collectiveCase('allGather on a Float64Array', (group) => group.allGather(new Float64Array(2) as never)),
    collectiveCase('allGatherObject of a BigInt', (group) => group.allGatherObject({ big: BigInt(1) })),
  ];
  return list;
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Read exactly `count` bytes (or fail after `timeoutMs`). */
function readBytes(socket: Socket, count: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no ${count}-byte greeting within ${timeoutMs} ms`)), timeoutMs);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error !== undefined) reject(error);
      else {
        if (buffered.length > count) socket.unshift(buffered.subarray(count));
        resolve(buffered.subarray(0, count));
      }
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= count) {
        socket.pause();
        done();
      }
    };
    const onClose = (): void => done(new Error('closed during the greeting'));
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.resume();
  });
}

async function hmacAnswer(serverNonce: Buffer, secret: string): Promise<Buffer> {
  const { createHmac, randomBytes } = await import('node:crypto');
  const clientNonce = randomBytes(32);
  return Buffer.concat([clientNonce, createHmac('sha256', secret).update('client').update(serverNonce).update(clientNonce).digest()]);
}

interface Exchange {
  readonly replies: string[];
  readonly closed: boolean;
}

/**
 * Open a connection, play the handshake as `auth` says, send `payload`, half-close, and collect what comes back
 * until the server closes. Never closing within CLOSE_WAIT_MS is reported as `closed: false`.
 */
async function attack(port: number, auth: Auth, payload: Buffer): Promise<Exchange> {
  const socket = await connected(port);
  socket.on('error', () => undefined);
  const replies: string[] = [];
  let closed = false;
  let text = '';
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => {
    closed = true;
    resolve();
  }));
  try {
    if (auth !== 'none' && auth !== 'silent') {
      const hello = await readBytes(socket, STORE_MAGIC.length + 32, CLOSE_WAIT_MS);
      const nonce = hello.subarray(STORE_MAGIC.length);
      if (auth === 'valid') {
        socket.write(await hmacAnswer(nonce, SECRET));
        const reply = await readBytes(socket, 33, CLOSE_WAIT_MS);
        if (reply[0] !== 1) throw new Error('the valid handshake was refused');
      } else if (auth === 'bad-mac') socket.write(await hmacAnswer(nonce, 'not-the-secret'));
      else if (auth === 'garbage') socket.write(Buffer.alloc(64, 0x41));
      else socket.write(Buffer.alloc(16, 7));
    }
  } catch {
    // the server closed on us mid-handshake: a refusal, judged below
  }
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.resume();
  if (!socket.destroyed && auth !== 'silent') socket.end(payload);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closedPromise, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
  clearTimeout(timer);
  socket.destroy();
  for (const part of text.split('\n')) if (part.trim().length > 0) replies.push(part);
  return { replies, closed };
}

// One store server per worker process, reused across cases (a case that kills it makes the next ones fail too).
let storePromise: Promise<{ server: StoreServer; client: StoreClient }> | undefined;

function store(): Promise<{ server: StoreServer; client: StoreClient }> {
  storePromise ??= (async () => {
    const server = await StoreServer.start({ host: HOST, port: 0, secret: SECRET, handshakeTimeoutMs: 1_000 });
    const client = await StoreClient.connect(HOST, server.port, SECRET, Date.now() + 5_000);
    return { server, client };
  })();
  return storePromise;
}

/** Never settles: the runner times the case out and counts it as a hang. */
function hang(): Promise<never> {
  setInterval(() => undefined, 1_000);
  return new Promise<never>(() => undefined);
}

async function attemptStore(payload: Buffer, auth: Auth, connections: number, expect: HostileCase['expect']): Promise<string[]> {
  const { server, client } = await store();
  const canary = `canary-${Date.now()}-${Math.random()}`;
  await client.set('@canary', canary);
  const exchanges = await Promise.all(Array.from({ length: connections }, () => attack(server.port, auth, payload)));
  if (exchanges.some((exchange) => !exchange.closed)) {
    process.stderr.write(`dist wire: the store kept a hostile connection open ${CLOSE_WAIT_MS} ms after it ended\n`);
    return hang();
  }
  // the follow-up: a fresh, well-behaved client must be served (a failure here is the server's death: a crash)
  let value: string;
  try {
    const fresh = await StoreClient.connect(HOST, server.port, SECRET, Date.now() + 3_000);
    try {
      await fresh.set('@follow-up', 'ok');
      value = await fresh.get('@canary', 1_000);
    } finally {
      fresh.close();
    }
  } catch (error) {
    throw new Error(`the store stopped serving after the attack: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (value !== canary) return [`the canary key now reads ${JSON.stringify(value.slice(0, 40))}, not ${canary}`];
  const replies = exchanges.flatMap((exchange) => exchange.replies);
  const parsed = replies.map((reply) => {
    try {
      return JSON.parse(reply) as { ok?: unknown; error?: unknown };
    } catch {
      return { ok: 'unreadable', error: reply.slice(0, 60) };
    }
  });
  const refusals = parsed.filter((reply) => reply.ok !== true);
  if (expect === 'accept' && refusals.length === 0) return [];
  if (auth !== 'valid') throw new DistError('AUTH', `the store refused the ${auth} handshake, closed the connection and still serves`);
  if (refusals.length > 0 || replies.length === 0) {
    const first = refusals[0];
    throw new DistError('PROTOCOL', first !== undefined ? `the store answered ${JSON.stringify(first).slice(0, 160)} and still serves` : 'the store closed the connection without an answer and still serves');
  }
  return [];
}

async function attemptPeer(payload: Buffer, auth: Auth, connections: number): Promise<string[]> {
  const { freePort } = await import('./free_port');
  const masterPort = await freePort();
  const runId = `hostile-${masterPort}`;
  const base = { worldSize: 2, masterAddr: HOST, masterPort, runId, env: {}, secret: SECRET, timeoutMs: 8_000, collectiveTimeoutMs: 5_000, engine: 'ring' as const };
  const zero = initProcessGroup({ ...base, rank: 0 });
  const zeroOutcome = zero.catch((error: unknown) => error);
  // find rank 0's data port in its store, then attack it before rank 1 joins
  const spy = await StoreClient.connect(HOST, masterPort, SECRET, Date.now() + 5_000);
  let address: string;
  try {
    address = await spy.get(`${runId}/0/addr/0`, 5_000);
  } finally {
    spy.close();
  }
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const hostile = Buffer.from(payload.toString('latin1').replaceAll('@prefix', `${runId}/0`), 'latin1');
  const exchanges = await Promise.all(Array.from({ length: connections }, () => attack(port, auth, hostile)));
  const one = await initProcessGroup({ ...base, rank: 1 }).catch((error: unknown) => error);
  const zeroGroup = await zeroOutcome;
  if (!(zeroGroup instanceof Object) || !('allReduce' in zeroGroup) || !(one instanceof Object) || !('allReduce' in one)) {
    const failure = [zeroGroup, one].find((value) => value instanceof Error) as Error | undefined;
    if (zeroGroup instanceof Object && 'destroy' in zeroGroup) await (zeroGroup as ProcessGroup).destroy();
    if (one instanceof Object && 'destroy' in one) await (one as ProcessGroup).destroy();
    throw new Error(`the group did not form after the attack: ${failure?.name ?? ''} ${failure?.message ?? String(failure)}`);
  }
  const groups = [zeroGroup as ProcessGroup, one as ProcessGroup];
  try {
    const sums = await Promise.all(groups.map((group) => group.allReduce(new Float32Array([group.rank + 1, 2]), 'sum')));
    const got = sums.map((sum) => Array.from(sum).join(','));
    if (got.some((text) => text !== '3,4')) return [`all-reduce after the attack gave ${got.join(' / ')}, not 3,4`];
  } finally {
    await Promise.all(groups.map((group) => group.destroy()));
  }
  if (exchanges.some((exchange) => !exchange.closed)) {
    process.stderr.write('dist wire: the data port kept a hostile connection open after it ended\n');
    return hang();
  }
  throw new DistError('AUTH', `rank 0 closed the hostile connection${connections > 1 ? 's' : ''} and the group formed and all-reduced correctly`);
}

let pairPromise: Promise<ProcessGroup[]> | undefined;

async function attemptCollective(call: (group: ProcessGroup) => Promise<unknown>): Promise<string[]> {
  pairPromise ??= (async () => {
    const { freePort } = await import('./free_port');
    const masterPort = await freePort();
    const base = { worldSize: 2, masterAddr: HOST, masterPort, runId: `hostile-c-${masterPort}`, env: {}, secret: SECRET, timeoutMs: 10_000, collectiveTimeoutMs: 5_000, engine: 'ring' as const };
    return Promise.all([0, 1].map((rank) => initProcessGroup({ ...base, rank })));
  })();
  const groups = await pairPromise;
  const zero = groups[0] as ProcessGroup;
  let caught: unknown;
  let returned: unknown;
  try {
    returned = await call(zero);
  } catch (error) {
    caught = error;
  }
  const sums = await Promise.all(groups.map((group) => group.allReduce(new Float32Array([group.rank + 1]), 'sum')));
  if (sums.some((sum) => sum[0] !== 3)) return ['the group all-reduced wrongly after the hostile call'];
  if (caught === undefined) return [`the call was accepted and returned ${String(returned).slice(0, 60)}`];
  if (caught instanceof RlhfError && !(caught instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${caught.name} ${caught.code}: ${caught.message}`);
  throw caught;
}

export const distWireArea: HostileArea = {
  name: 'dist wire',
  timeoutMs: 20_000,
  cases,
  async attempt(directory, hostileCase) {
    const attackSpec = ATTACKS.get(hostileCase.name);
    if (attackSpec === undefined) throw new Error(`dist wire: no attack for ${hostileCase.name}`);
    if (attackSpec.kind === 'collective') return attemptCollective(attackSpec.call);
    const payload = readFileSync(join(directory, 'payload.bin'));
    if (attackSpec.kind === 'store') return attemptStore(payload, attackSpec.auth, attackSpec.connections ?? 1, hostileCase.expect);
    return attemptPeer(payload, attackSpec.auth, attackSpec.connections ?? 1);
  },
};
