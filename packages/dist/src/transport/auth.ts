import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { DistError } from '@rlhfjs/core';

const MAGIC = Buffer.from('RLHFJS01', 'latin1'); // 8 bytes
const NONCE_BYTES = 32;
const MAC_BYTES = 32;

/** The default shared secret of a run: derived from its id, so that every rank of one run agrees on it. */
export function deriveSecret(runId: string): string {
  return createHash('sha256').update(`rlhfjs-dist-secret:${runId}`).digest('hex');
}

function mac(secret: string, role: string, first: Buffer, second: Buffer): Buffer {
  return createHmac('sha256', secret).update(role).update(first).update(second).digest();
}

/** Read exactly `byteCount` bytes from a socket, then give any extra bytes back to it. */
export function readExactly(socket: Socket, byteCount: number, timeoutMs: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (error: Error | undefined, value?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error !== undefined) reject(error);
      else resolve(value as Buffer);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < byteCount) return;
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > byteCount) socket.unshift(all.subarray(byteCount));
      finish(undefined, all.subarray(0, byteCount));
    };
    const onClose = (): void => finish(new DistError('AUTH', `${what}: the other side closed the connection during the handshake (wrong secret?)`));
    const onError = (error: Error): void => finish(new DistError('AUTH', `${what}: ${error.message}`, { cause: error }));
    const timer = setTimeout(() => finish(new DistError('AUTH', `${what}: handshake timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.resume();
  });
}

/** Where a handshake reads from: the next `byteCount` bytes, or a rejection. */
export type HandshakeRead = (byteCount: number) => Promise<Buffer>;

/**
 * Accepting side of the HMAC-SHA256 challenge/response. Neither side ever sends the secret: the server sends a
 * nonce, the client answers with its own nonce and HMAC(secret, "client" ‖ serverNonce ‖ clientNonce), and the
 * server proves itself with HMAC(secret, "server" ‖ clientNonce ‖ serverNonce). A wrong answer closes the socket.
 */
export async function acceptHandshake(socket: Socket, secret: string, timeoutMs: number): Promise<void> {
  await acceptHandshakeOver(socket, (byteCount) => readExactly(socket, byteCount, timeoutMs, 'acceptHandshake'), secret);
}

/** `acceptHandshake` reading through `read` (a `SocketFeed`, for data sockets). */
export async function acceptHandshakeOver(socket: Socket, read: HandshakeRead, secret: string): Promise<void> {
  const serverNonce = randomBytes(NONCE_BYTES);
  socket.write(Buffer.concat([MAGIC, serverNonce]));
  const answer = await read(NONCE_BYTES + MAC_BYTES);
  const clientNonce = answer.subarray(0, NONCE_BYTES);
  const expected = mac(secret, 'client', serverNonce, clientNonce);
  if (!timingSafeEqual(expected, answer.subarray(NONCE_BYTES))) {
    socket.end(Buffer.from([0]));
    socket.destroySoon?.();
    throw new DistError('AUTH', 'acceptHandshake: a connection presented a wrong secret; refused it');
  }
  socket.write(Buffer.concat([Buffer.from([1]), mac(secret, 'server', clientNonce, serverNonce)]));
}

/** Connecting side of the handshake; throws `DistError('AUTH')` when the other side does not know the secret. */
export async function connectHandshake(socket: Socket, secret: string, timeoutMs: number, what: string): Promise<void> {
  await connectHandshakeOver(socket, (byteCount) => readExactly(socket, byteCount, timeoutMs, what), secret, what);
}

/** `connectHandshake` reading through `read`. */
export async function connectHandshakeOver(socket: Socket, read: HandshakeRead, secret: string, what: string): Promise<void> {
  const hello = await read(MAGIC.length + NONCE_BYTES);
  if (!hello.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new DistError('AUTH', `${what}: the server is not an rlhfjs dist endpoint (bad greeting)`);
  }
  const serverNonce = hello.subarray(MAGIC.length);
  const clientNonce = randomBytes(NONCE_BYTES);
  socket.write(Buffer.concat([clientNonce, mac(secret, 'client', serverNonce, clientNonce)]));
  let reply: Buffer;
  try {
    reply = await read(1 + MAC_BYTES);
  } catch (error) {
    throw new DistError('AUTH', `${what}: the server refused our secret (RLHFJS_DIST_SECRET differs?)`, { cause: error });
  }
  const expected = mac(secret, 'server', clientNonce, serverNonce);
  if (reply[0] !== 1 || !timingSafeEqual(expected, reply.subarray(1))) {
    throw new DistError('AUTH', `${what}: the server refused our secret or does not know it`);
  }
}
