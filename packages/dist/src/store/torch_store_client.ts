import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { DistError } from '@rlhfjs/core';
import { ByteReader } from '../transport/byte_reader';
import { connectOnce, sleep } from './connect_once';
import type { RendezvousStore } from './rendezvous_store';
import {
  encodeAdd,
  encodeCheck,
  encodeGet,
  encodeSet,
  encodeValidateAndPing,
  probeNonce,
  TORCH_CHECK_NOT_READY,
  TORCH_CHECK_READY,
  TORCH_INIT_KEY,
  TORCH_KEY_PREFIX,
  TORCH_MAX_KEY_BYTES,
  TORCH_MAX_VALUE_BYTES,
  TORCH_STORE_CODES,
  type TorchStoreProtocol,
} from './torch_store_protocol';

export interface TorchStoreClientOptions {
  /** `auto` (default) tries `v2`'s VALIDATE + PING and falls back to `v1` when the server closes on it. */
  readonly protocol?: TorchStoreProtocol | 'auto';
  /** Connect retries stop here (ms since epoch). */
  readonly deadline: number;
  /** Count this client in at `init/` like torch's own clients do (default true). */
  readonly countIn?: boolean;
}

const POLL_MIN_MS = 5;
const POLL_MAX_MS = 100;

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A client of PyTorch's c10d TCPStore (the store torchrun's agent hosts on MASTER_PORT when it sets
 * `TORCHELASTIC_USE_AGENT_STORE=True`). Requests run one at a time in call order; `get` and `wait` poll CHECK
 * with a growing interval, so a deadline never leaves a blocking WAIT half-answered on the connection.
 * Keys get torch's "/" prefix, so a Python `TCPStore` client reads the same keys.
 */
export class TorchStoreClient implements RendezvousStore {
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly reader: ByteReader,
    readonly protocol: TorchStoreProtocol,
    private readonly where: string,
  ) {}

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  static async connect(host: string, port: number, options: TorchStoreClientOptions): Promise<TorchStoreClient> {
    const where = `TorchStoreClient(${host}:${port})`;
    const wanted = options.protocol ?? 'auto';
    let client: TorchStoreClient;
    if (wanted === 'v1') client = await TorchStoreClient.open(host, port, 'v1', options.deadline, where);
    else {
      try {
        client = await TorchStoreClient.open(host, port, 'v2', options.deadline, where);
      } catch (error) {
        if (!(error instanceof DistError) || error.code !== 'STORE_CLOSED') throw error;
        if (wanted === 'v2') {
          throw new DistError('RENDEZVOUS', `${where}: the TCPStore closed the connection on VALIDATE + PING: not a torch 2.x store (try protocol v1)`, {
            cause: error,
            peer: 0,
          });
        }
        client = await TorchStoreClient.open(host, port, 'v1', options.deadline, where);
      }
    }
    if (options.countIn ?? true) await client.addRaw(TORCH_INIT_KEY, 1);
    return client;
  }

  /** Connect (retrying until the store listens or `deadline`), and for `v2` validate and ping. */
  private static async open(host: string, port: number, protocol: TorchStoreProtocol, deadline: number, where: string): Promise<TorchStoreClient> {
    let socket: Socket | undefined;
    let lastError: unknown;
    while (socket === undefined && Date.now() < deadline) {
      try {
        socket = await connectOnce(host, port, { noDelay: true });
      } catch (error) {
        lastError = error;
        await sleep(50);
      }
    }
    if (socket === undefined) {
      throw new DistError('RENDEZVOUS', `${where}: could not reach the PyTorch TCPStore before the rendezvous timeout`, { cause: lastError, peer: 0 });
    }
    const reader = new ByteReader(socket, () => new DistError('STORE_CLOSED', `${where}: the TCPStore closed the connection`, { peer: 0 }));
    const client = new TorchStoreClient(socket, reader, protocol, `${where}[${protocol}]`);
    if (protocol === 'v2') {
      const nonce = probeNonce(randomBytes(4).readUInt32LE(0));
      socket.write(encodeValidateAndPing(nonce));
      try {
        const echo = await withTimeout(
          reader.read(4),
          Math.max(1, Math.min(10_000, deadline - Date.now())),
          () => new DistError('RENDEZVOUS', `${where}: the TCPStore did not answer PING (a torch 2.x version this client does not speak?)`),
        );
        if (echo.readUInt32LE(0) !== nonce) throw new DistError('RENDEZVOUS', `${where}: the TCPStore answered PING with a wrong nonce`);
      } catch (error) {
        socket.destroy();
        throw error;
      }
    }
    return client;
  }

  set(key: string, value: string): Promise<void> {
    return this.request('set', async () => {
      this.socket.write(encodeSet(this.codes(), this.prefixed(key), this.checkedValue(key, Buffer.from(value, 'utf8'))));
    });
  }

  add(key: string, delta: number): Promise<number> {
    return this.addRaw(this.prefixed(key), delta);
  }

  async get(key: string, timeoutMs: number): Promise<string> {
    await this.wait([key], timeoutMs);
    return this.request('get', async () => {
      this.socket.write(encodeGet(this.codes(), this.prefixed(key)));
      const length = (await this.reader.read(8)).readBigUInt64LE(0);
      if (length > BigInt(TORCH_MAX_VALUE_BYTES)) {
        this.close();
        throw new DistError('PROTOCOL', `${this.where}: get("${key}") announced a value of ${length} bytes, above the ${TORCH_MAX_VALUE_BYTES} allowed`);
      }
      return (await this.reader.read(Number(length))).toString('utf8');
    });
  }

  async wait(keys: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const prefixed = keys.map((key) => this.prefixed(key));
    for (let interval = POLL_MIN_MS; ; interval = Math.min(POLL_MAX_MS, interval * 2)) {
      if (await this.check(prefixed)) return;
      if (Date.now() >= deadline) break;
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
    }
    const missing: string[] = [];
    for (const [index, key] of prefixed.entries()) if (!(await this.check([key]))) missing.push(keys[index] as string);
    if (missing.length === 0) return;
    const error = new DistError('RENDEZVOUS', `${this.where}: keys missing after ${timeoutMs} ms: ${missing.join(', ')}`);
    (error as DistError & { missing?: readonly string[] }).missing = missing;
    throw error;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private codes(): (typeof TORCH_STORE_CODES)[TorchStoreProtocol] {
    return TORCH_STORE_CODES[this.protocol];
  }

  private prefixed(key: string): string {
    if (Buffer.byteLength(key, 'utf8') + TORCH_KEY_PREFIX.length > TORCH_MAX_KEY_BYTES) {
      throw new DistError('PROTOCOL', `${this.where}: key of ${Buffer.byteLength(key)} bytes is above the ${TORCH_MAX_KEY_BYTES} a TCPStore accepts`);
    }
    return `${TORCH_KEY_PREFIX}${key}`;
  }

  private checkedValue(key: string, value: Buffer): Buffer {
    if (value.length > TORCH_MAX_VALUE_BYTES) {
      throw new DistError('PROTOCOL', `${this.where}: value of "${key}" has ${value.length} bytes, above the ${TORCH_MAX_VALUE_BYTES} a TCPStore accepts`);
    }
    return value;
  }

  private addRaw(key: string, delta: number): Promise<number> {
    return this.request('add', async () => {
      this.socket.write(encodeAdd(this.codes(), key, delta));
      return Number((await this.reader.read(8)).readBigInt64LE(0));
    });
  }

  private check(keys: readonly string[]): Promise<boolean> {
    return this.request('check', async () => {
      this.socket.write(encodeCheck(this.codes(), keys));
      const answer = (await this.reader.read(1))[0];
      if (answer !== TORCH_CHECK_READY && answer !== TORCH_CHECK_NOT_READY) {
        this.close();
        throw new DistError('PROTOCOL', `${this.where}: CHECK answered ${answer}, expected 0 or 1`);
      }
      return answer === TORCH_CHECK_READY;
    });
  }

  private request<T>(what: string, body: () => Promise<T>): Promise<T> {
    const task = async (): Promise<T> => {
      if (this.closed) throw new DistError('RENDEZVOUS', `${this.where}: ${what} after close()`);
      try {
        return await body();
      } catch (error) {
        if (error instanceof DistError && error.code === 'STORE_CLOSED') {
          throw new DistError('RENDEZVOUS', `${this.where}: ${what}: the TCPStore closed the connection`, { cause: error, peer: 0 });
        }
        throw error;
      }
    };
    const result = this.chain.then(task, task);
    this.chain = result.catch(() => undefined);
    return result;
  }
}
