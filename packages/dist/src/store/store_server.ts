import { createServer, type Server, type Socket } from 'node:net';
import { DistError } from '@rlhfjs/core';
import { acceptHandshake } from '../transport/auth';
import { parseStoreRequest, readLines, type StoreResponse } from './store_protocol';

export interface StoreServerOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly handshakeTimeoutMs: number;
}

/**
 * The key-value store rank 0 serves during rendezvous, like torch's TCPStore: `set`, `get` that waits for the
 * key, `add` (atomic counter) and `wait` for several keys. Connections that fail the handshake are dropped.
 */
export class StoreServer {
  private readonly values = new Map<string, string>();
  private readonly keyWaiters = new Map<string, Array<() => void>>();
  private readonly sockets = new Set<Socket>();
  private readonly pendingBySocket = new Map<Socket, Set<() => void>>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static start(options: StoreServerOptions): Promise<StoreServer> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new DistError('RENDEZVOUS', `StoreServer: cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`, {
            cause: error,
          }),
        ),
      );
      server.listen(options.port, options.host, () => {
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : options.port;
        const store = new StoreServer(server, port);
        server.on('connection', (socket) => store.accept(socket, options));
        resolve(store);
      });
    });
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }

  private accept(socket: Socket, options: StoreServerOptions): void {
    this.sockets.add(socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      // a client that left stops its pending get/wait: no timer or waiter outlives the connection
      for (const cancel of this.pendingBySocket.get(socket) ?? []) cancel();
      this.pendingBySocket.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    acceptHandshake(socket, options.secret, options.handshakeTimeoutMs).then(
      () => readLines(socket, (line) => this.handle(socket, line)),
      () => socket.destroy(),
    );
  }

  private reply(socket: Socket, response: StoreResponse): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
  }

  private notify(key: string): void {
    for (const wake of this.keyWaiters.get(key)?.splice(0) ?? []) wake();
  }

  private waitFor(socket: Socket, id: number, keys: readonly string[], timeoutMs: number, onReady: () => void): void {
    const missing = (): string[] => keys.filter((key) => !this.values.has(key));
    if (missing().length === 0) {
      onReady();
      return;
    }
    let done = false;
    const pending = this.pendingBySocket.get(socket) ?? new Set<() => void>();
    this.pendingBySocket.set(socket, pending);
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      pending.delete(finish);
      for (const key of keys) this.dequeue(key, check);
    };
    const check = (): void => {
      if (done) return;
      const left = missing();
      if (left.length === 0) {
        finish();
        onReady();
      } else {
        for (const key of left) this.enqueue(key, check);
      }
    };
    const timer = setTimeout(() => {
      finish();
      this.reply(socket, { id, ok: false, error: 'timeout', missing: missing() });
    }, timeoutMs);
    pending.add(finish);
    for (const key of missing()) this.enqueue(key, check);
  }

  /** Requests (get/wait) still waiting for keys, over all connections. */
  get pendingRequests(): number {
    let count = 0;
    for (const pending of this.pendingBySocket.values()) count += pending.size;
    return count;
  }

  private dequeue(key: string, wake: () => void): void {
    const list = this.keyWaiters.get(key);
    if (list === undefined) return;
    const kept = list.filter((entry) => entry !== wake);
    if (kept.length === 0) this.keyWaiters.delete(key);
    else this.keyWaiters.set(key, kept);
  }

  private enqueue(key: string, wake: () => void): void {
    const list = this.keyWaiters.get(key) ?? [];
    list.push(wake);
    this.keyWaiters.set(key, list);
  }

  /** One request line; an invalid one is answered with `ok: false` (or, without a readable id, closes that socket). */
  private handle(socket: Socket, line: string): void {
    const parsed = parseStoreRequest(line);
    if ('problem' in parsed) {
      if (parsed.id === undefined) socket.destroy();
      else this.reply(socket, { id: parsed.id, ok: false, error: `invalid request: ${parsed.problem}` });
      return;
    }
    const request = parsed.request;
    switch (request.command) {
      case 'set':
        this.values.set(request.key, request.value);
        this.notify(request.key);
        this.reply(socket, { id: request.id, ok: true });
        return;
      case 'add': {
        // a counter is a decimal integer; a key holding anything else (an address, a blob) is not overwritten
        const text = this.values.get(request.key) ?? '0';
        const current = /^-?\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
        const value = current + request.delta;
        if (!Number.isSafeInteger(current) || !Number.isSafeInteger(value)) {
          const problem = Number.isSafeInteger(current) ? `${current} + ${request.delta} is past 2^53` : 'it holds a value that is not an integer counter';
          this.reply(socket, { id: request.id, ok: false, error: `add: key ${JSON.stringify(request.key.slice(0, 80))}: ${problem}; left unchanged` });
          return;
        }
        this.values.set(request.key, String(value));
        this.notify(request.key);
        this.reply(socket, { id: request.id, ok: true, value });
        return;
      }
      case 'get':
        this.waitFor(socket, request.id, [request.key], request.timeoutMs, () =>
          this.reply(socket, { id: request.id, ok: true, value: this.values.get(request.key) as string }),
        );
        return;
      case 'wait':
        this.waitFor(socket, request.id, request.keys, request.timeoutMs, () => this.reply(socket, { id: request.id, ok: true }));
        return;
      default: {
        const exhaustive: never = request;
        void exhaustive;
        socket.destroy();
      }
    }
  }
}
