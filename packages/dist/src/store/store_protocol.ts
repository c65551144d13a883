import type { Socket } from 'node:net';

/** One request to the rendezvous store, newline-delimited JSON after the handshake. */
export type StoreRequest =
  | { readonly id: number; readonly command: 'set'; readonly key: string; readonly value: string }
  | { readonly id: number; readonly command: 'get'; readonly key: string; readonly timeoutMs: number }
  | { readonly id: number; readonly command: 'add'; readonly key: string; readonly delta: number }
  | { readonly id: number; readonly command: 'wait'; readonly keys: readonly string[]; readonly timeoutMs: number };

export type StoreResponse =
  | { readonly id: number; readonly ok: true; readonly value?: string | number }
  | { readonly id: number; readonly ok: false; readonly error: string; readonly missing?: readonly string[] };

/** No request or response line is longer than this (keys and values are addresses and counters). */
export const MAX_STORE_LINE_BYTES = 1024 * 1024;
export const MAX_STORE_KEY_LENGTH = 4096;
export const MAX_STORE_WAIT_KEYS = 65_536;
/** Longest wait a request may ask for (a day): anything longer is a mistake, not a rendezvous. */
export const MAX_STORE_TIMEOUT_MS = 24 * 3600 * 1000;

/**
 * Call `onLine` for each newline-terminated line arriving on the socket. A line longer than
 * `MAX_STORE_LINE_BYTES` calls `onOverflow` instead, and nothing more is read.
 */
export function readLines(socket: Socket, onLine: (line: string) => void, onOverflow: () => void = () => socket.destroy()): void {
  let pending = '';
  let overflowed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    if (overflowed) return;
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.length > 0) onLine(line);
      newline = pending.indexOf('\n');
    }
    if (pending.length > MAX_STORE_LINE_BYTES) {
      overflowed = true;
      pending = '';
      onOverflow();
    }
  });
  socket.resume();
}

function isKey(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_STORE_KEY_LENGTH;
}

function isTimeout(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_STORE_TIMEOUT_MS;
}

/**
 * Validate one request line: a `StoreRequest`, or the reason it is not one (with its id when that much is
 * readable, so the server can answer it). Never throws.
 */
export function parseStoreRequest(line: string): { request: StoreRequest } | { problem: string; id?: number } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { problem: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: `not an object: ${line.slice(0, 40)}` };
  const body = value as Record<string, unknown>;
  const id = body.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return { problem: 'id must be a non-negative integer' };
  const fail = (problem: string): { problem: string; id: number } => ({ problem, id });
  switch (body.command) {
    case 'set':
      if (!isKey(body.key)) return fail(`set: key must be a string of 1..${MAX_STORE_KEY_LENGTH} characters`);
      if (typeof body.value !== 'string') return fail('set: value must be a string');
      return { request: { id, command: 'set', key: body.key, value: body.value } };
    case 'add':
      if (!isKey(body.key)) return fail(`add: key must be a string of 1..${MAX_STORE_KEY_LENGTH} characters`);
      if (typeof body.delta !== 'number' || !Number.isSafeInteger(body.delta)) return fail('add: delta must be a safe integer');
      return { request: { id, command: 'add', key: body.key, delta: body.delta } };
    case 'get':
      if (!isKey(body.key)) return fail(`get: key must be a string of 1..${MAX_STORE_KEY_LENGTH} characters`);
      if (!isTimeout(body.timeoutMs)) return fail(`get: timeoutMs must be a number in [0, ${MAX_STORE_TIMEOUT_MS}]`);
      return { request: { id, command: 'get', key: body.key, timeoutMs: body.timeoutMs } };
    case 'wait': {
      const keys = body.keys;
      if (!Array.isArray(keys) || keys.length > MAX_STORE_WAIT_KEYS || !keys.every(isKey)) {
        return fail(`wait: keys must be an array of at most ${MAX_STORE_WAIT_KEYS} keys`);
      }
      if (!isTimeout(body.timeoutMs)) return fail(`wait: timeoutMs must be a number in [0, ${MAX_STORE_TIMEOUT_MS}]`);
      return { request: { id, command: 'wait', keys: keys as string[], timeoutMs: body.timeoutMs } };
    }
    default:
      return fail(`unknown command ${JSON.stringify(body.command)?.slice(0, 40)}`);
  }
}
