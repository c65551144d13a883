import { createServer, type Server } from 'node:net';
import { DistError } from '@rlhfjs/core';
import { acceptHandshakeOver, connectHandshakeOver } from '../transport/auth';
import { SocketFeed } from '../transport/socket_feed';
import type { BufferPool } from '../transport/buffer_pool';
import { FrameConnection } from '../transport/frame_connection';
import type { RendezvousStore } from '../store/rendezvous_store';
import type { ProcessGroupConfig } from './process_group_config';
import { OpCode } from './op_codes';

/** How much longer than the other ranks rank 0 waits at the rendezvous (see the wait below). */
const STORE_HOST_GRACE_MS = 2000;

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

/** Split `host:port`, `[v6]:port` too. */
function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}

/** The hello frame a connecting rank sends, or undefined when it is not one. */
function parseHello(payload: Buffer): { rank: number; prefix: string } | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { rank, prefix } = value as { rank?: unknown; prefix?: unknown };
    return typeof rank === 'number' && typeof prefix === 'string' ? { rank, prefix } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Connect every pair of ranks with one authenticated TCP socket. Each rank listens on port 0, publishes
 * `host:port` in the store under `<runId>/<restartCount>/addr/<rank>`, waits until every rank has published,
 * then connects to every lower rank and accepts every higher one. Returns the connection to each peer
 * (undefined at this rank's own index).
 */
export async function connectMesh(
  config: ProcessGroupConfig,
  store: RendezvousStore,
  pool: BufferPool,
  deadline: number,
  maxFrameBytes: number,
): Promise<Array<FrameConnection | undefined>> {
  const { rank, worldSize } = config;
  const prefix = `${config.runId}/${config.restartCount}`;
  const peers: Array<FrameConnection | undefined> = new Array(worldSize).fill(undefined);
  // pauseOnConnect: nothing is read before SocketFeed re-wraps the connection to read through a reusable buffer
  const server = createServer({ pauseOnConnect: true });
  let acceptedCount = 0;
  const expectedAccepts = worldSize - 1 - rank;
  let onAllAccepted: () => void = () => undefined;
  const allAccepted = new Promise<void>((resolve) => {
    onAllAccepted = resolve;
    if (expectedAccepts === 0) resolve();
  });
  const handshakeMs = (): number => Math.max(500, deadline - Date.now());
  server.on('connection', (accepted) => {
    accepted.on('error', () => accepted.destroy());
    const feed = SocketFeed.adopt(accepted);
    const socket = feed.socket;
    socket.on('error', () => socket.destroy());
    const timeoutMs = handshakeMs();
    acceptHandshakeOver(socket, (byteCount) => feed.read(byteCount, timeoutMs, 'acceptHandshake'), config.secret)
      .then(() => {
        const connection = new FrameConnection(socket, pool, () => socket.destroy(), maxFrameBytes, feed);
        connection.onControl = (frame) => {
          connection.onControl = () => undefined;
          const hello = frame.op === OpCode.hello ? parseHello(frame.payload) : undefined;
          const peer = hello?.rank ?? -1;
          if (hello === undefined || hello.prefix !== prefix || !(Number.isInteger(peer) && peer > rank && peer < worldSize) || peers[peer] !== undefined) {
            socket.destroy();
            return;
          }
          peers[peer] = connection;
          acceptedCount += 1;
          if (acceptedCount === expectedAccepts) onAllAccepted();
        };
      })
      .catch(() => socket.destroy());
  });
  try {
    const port = await listen(server, config.bindAddr);
    const host = config.advertiseAddr ?? (store.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    await store.set(`${prefix}/addr/${rank}`, `${host.includes(':') ? `[${host}]` : host}:${port}`);
    const keys = Array.from({ length: worldSize }, (_, peer) => `${prefix}/addr/${peer}`);
    try {
      // rank 0 serves the store: it gives up a little after the others, so that their waits (which started a
      // moment later) are answered with the list of missing ranks before its store goes away
      const storeHostGrace = rank === 0 ? STORE_HOST_GRACE_MS : 0;
      await store.wait(keys, Math.max(1, deadline - Date.now() + storeHostGrace));
    } catch (error) {
      const missing = ((error as { missing?: readonly string[] }).missing ?? []).map((key) => key.slice(key.lastIndexOf('/') + 1));
      throw new DistError(
        'RENDEZVOUS',
        `initProcessGroup: rank ${rank}: rank(s) ${missing.join(', ') || '?'} of ${worldSize} never joined run "${config.runId}" within ${config.timeoutMs} ms`,
        { cause: error, peer: missing.length > 0 ? Number(missing[0]) : undefined },
      );
    }
    for (let peer = 0; peer < rank; peer += 1) {
      const [peerHost, peerPort] = splitAddress(await store.get(`${prefix}/addr/${peer}`, Math.max(1, deadline - Date.now())));
      const feed = await SocketFeed.connect(peerHost, peerPort);
      const socket = feed.socket;
      socket.on('error', () => socket.destroy());
      const what = `initProcessGroup: rank ${rank} → rank ${peer}`;
      const timeoutMs = handshakeMs();
      await connectHandshakeOver(socket, (byteCount) => feed.read(byteCount, timeoutMs, what), config.secret, what);
      const connection = new FrameConnection(socket, pool, () => socket.destroy(), maxFrameBytes, feed);
      await connection.send(OpCode.hello, 0, Buffer.from(JSON.stringify({ rank, prefix })));
      peers[peer] = connection;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      allAccepted,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const missing = peers.map((peer, index) => (peer === undefined && index > rank ? index : -1)).filter((index) => index >= 0);
          reject(new DistError('RENDEZVOUS', `initProcessGroup: rank ${rank}: rank(s) ${missing.join(', ')} never connected`, { peer: missing[0] }));
        }, Math.max(1, deadline - Date.now()));
      }),
    ]).finally(() => clearTimeout(timer));
    return peers;
  } catch (error) {
    for (const peer of peers) peer?.socket.destroy();
    throw error instanceof DistError ? error : new DistError('RENDEZVOUS', `initProcessGroup: rank ${rank}: ${String(error)}`, { cause: error });
  } finally {
    server.close();
  }
}
