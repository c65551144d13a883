import type { Socket } from 'node:net';
import { DistError } from '@rlhfjs/core';
import { connectHandshake } from '../transport/auth';
import type { RendezvousStore } from './rendezvous_store';
import { connectOnce, sleep } from './connect_once';
import { MAX_STORE_TIMEOUT_MS, readLines, type StoreRequest, type StoreResponse } from './store_protocol';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Client of the rendezvous `StoreServer`. Keys are used as given; callers scope them by run id. */
export class StoreClient implements RendezvousStore {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (response: StoreResponse) => void; reject: (error: Error) => void }>();
  private closed = false;

  private constructor(readonly socket: Socket, private readonly where: string) {
    readLines(socket, (line) => {
      let response: StoreResponse;
      try {
        response = JSON.parse(line) as StoreResponse;
      } catch {
        socket.destroy();
        return;
      }
      if (typeof response !== 'object' || response === null || typeof response.id !== 'number') {
        socket.destroy();
        return;
      }
      const waiter = this.pending.get(response.id);
      this.pending.delete(response.id);
      waiter?.resolve(response);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const error = new DistError('RENDEZVOUS', `${where}: the store at rank 0 closed the connection`, { peer: 0 });
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    });
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  /** Connect, retrying while the store is not up yet, until `deadline` (ms since epoch). */
  static async connect(host: string, port: number, secret: string, deadline: number): Promise<StoreClient> {
    const where = `StoreClient(${host}:${port})`;
    let lastError: unknown;
    while (Date.now() < deadline) {
      let socket: Socket;
      try {
        socket = await connectOnce(host, port);
      } catch (error) {
        lastError = error;
        await sleep(50);
        continue;
      }
      try {
        await connectHandshake(socket, secret, Math.max(1000, deadline - Date.now()), where);
      } catch (error) {
        socket.destroy();
        throw error;
      }
      return new StoreClient(socket, where);
    }
    throw new DistError('RENDEZVOUS', `${where}: could not reach the store of rank 0 before the rendezvous timeout`, {
      cause: lastError,
      peer: 0,
    });
  }

  private request(body: DistributiveOmit<StoreRequest, 'id'>): Promise<StoreResponse> {
    if (this.closed) return Promise.reject(new DistError('RENDEZVOUS', `${this.where}: closed`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  async set(key: string, value: string): Promise<void> {
    const response = await this.request({ command: 'set', key, value });
    if (!response.ok) throw new DistError('RENDEZVOUS', `${this.where}: set "${key.slice(0, 80)}" refused: ${response.error}`);
  }

  /** Add `delta` to the integer counter at `key` (0 when unset); the store refuses a key holding a non-counter. */
  async add(key: string, delta: number): Promise<number> {
    const response = await this.request({ command: 'add', key, delta });
    if (!response.ok) throw new DistError('RENDEZVOUS', `${this.where}: add to "${key.slice(0, 80)}" refused: ${response.error}`);
    return Number(response.value);
  }

  /** The value of `key`, waiting up to `timeoutMs` for some rank to set it. */
  async get(key: string, timeoutMs: number): Promise<string> {
    const response = await this.request({ command: 'get', key, timeoutMs: Math.min(timeoutMs, MAX_STORE_TIMEOUT_MS) });
    if (!response.ok) throw new DistError('RENDEZVOUS', `${this.where}: key "${key}" was not set within ${timeoutMs} ms`);
    return String(response.value);
  }

  /** Wait until every key is set; on timeout the error lists the missing keys. */
  async wait(keys: readonly string[], timeoutMs: number): Promise<void> {
    const response = await this.request({ command: 'wait', keys, timeoutMs: Math.min(timeoutMs, MAX_STORE_TIMEOUT_MS) });
    if (!response.ok) {
      const error = new DistError('RENDEZVOUS', `${this.where}: keys missing after ${timeoutMs} ms: ${(response.missing ?? []).join(', ')}`);
      (error as DistError & { missing?: readonly string[] }).missing = response.missing;
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
