import { connect, Socket } from 'node:net';
import { DistError } from '@rlhfjs/core';

/** Bytes read per system call into the feed's one reusable buffer. */
const READ_BUFFER_BYTES = 1024 * 1024;

/** Where the consumer wants its next read: a non-empty region it owns, or undefined for the reusable buffer. */
export type ReadTarget = () => Buffer | undefined;

type Waiter = { byteCount: number; resolve: (bytes: Buffer) => void; reject: (error: Error) => void };

/**
 * A data socket whose incoming bytes land in memory the consumer chooses, instead of a freshly allocated 64 KiB
 * Buffer per read: on these machines filling fresh memory is what made receiving slow (measured on loopback:
 * 0.2–0.3 GB/s with per-read buffers against ~0.6 GB/s reusing one, copying either way). node's `onread` takes a
 * buffer generator, asked after every read where the next read goes: the consumer's `readTarget()` when it names
 * one (the rest of a frame's payload: the kernel copies it straight to its destination, no copy in JS), else one
 * reusable buffer. Before a consumer is attached (during the handshake), bytes are copied aside and handed out by
 * `read()`; after, every chunk goes straight to the consumer, which must copy what it keeps before returning.
 */
export class SocketFeed {
  private consumer: ((chunk: Buffer) => void) | undefined;
  private readTarget: ReadTarget | undefined;
  private readonly aside: Buffer[] = [];
  private asideBytes = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('close', () => {
      this.closed = true;
      this.drain();
    });
    socket.on('error', () => undefined);
  }

  private static readOptions(feed: { current?: SocketFeed }): { buffer: () => Buffer; callback: (byteCount: number, buffer: Buffer) => boolean } {
    const reusable = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    return {
      // asked once when the handle is set up and again after every read; never empty (a 0-byte read means EOF)
      buffer: () => {
        const target = feed.current?.readTarget?.();
        return target !== undefined && target.length > 0 ? target : reusable;
      },
      callback: (byteCount, buffer) => {
        feed.current?.onChunk(buffer.subarray(0, byteCount));
        return true;
      },
    };
  }

  /** Connect to `host:port`, reading through a reusable buffer. */
  static connect(host: string, port: number): Promise<SocketFeed> {
    const holder: { current?: SocketFeed } = {};
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, onread: SocketFeed.readOptions(holder) });
      socket.once('connect', () => {
        socket.off('error', reject);
        holder.current = new SocketFeed(socket);
        resolve(holder.current);
      });
      socket.once('error', reject);
    });
  }

  /**
   * Take over a socket a server accepted with `pauseOnConnect: true` (so nothing was read yet): the same
   * connection, re-wrapped to read through a reusable buffer (node only offers `onread` when constructing).
   */
  static adopt(accepted: Socket): SocketFeed {
    const holder: { current?: SocketFeed } = {};
    const handle = (accepted as unknown as { _handle: unknown })._handle;
    const socket = new Socket({ handle, onread: SocketFeed.readOptions(holder) } as unknown as ConstructorParameters<typeof Socket>[0]);
    holder.current = new SocketFeed(socket);
    socket.resume();
    return holder.current;
  }

  /** The next `byteCount` bytes (only before `attach`), failing with `DistError('AUTH')` on close or timeout. */
  read(byteCount: number, timeoutMs: number, what: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new DistError('AUTH', `${what}: handshake timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        byteCount,
        resolve: (bytes) => {
          clearTimeout(timer);
          resolve(bytes);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
      this.drain(what);
    });
  }

  /**
   * From now on every chunk goes to `consumer` (bytes set aside so far first), and reads land where `readTarget`
   * says (the chunk handed to `consumer` is then a view of that region).
   */
  attach(consumer: (chunk: Buffer) => void, readTarget?: ReadTarget): void {
    this.consumer = consumer;
    this.readTarget = readTarget;
    const aside = this.aside.splice(0);
    this.asideBytes = 0;
    for (const chunk of aside) consumer(chunk);
  }

  private onChunk(chunk: Buffer): void {
    if (this.consumer !== undefined) {
      this.consumer(chunk);
      return;
    }
    this.aside.push(Buffer.from(chunk));
    this.asideBytes += chunk.length;
    this.drain();
  }

  private drain(what = 'SocketFeed'): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0] as Waiter;
      if (this.asideBytes < waiter.byteCount) {
        if (this.closed) {
          for (const pending of this.waiters.splice(0)) {
            pending.reject(new DistError('AUTH', `${what}: the other side closed the connection during the handshake (wrong secret?)`));
          }
        }
        return;
      }
      this.waiters.shift();
      const all = Buffer.concat(this.aside.splice(0), this.asideBytes);
      const rest = all.subarray(waiter.byteCount);
      this.asideBytes = rest.length;
      if (rest.length > 0) this.aside.push(rest);
      waiter.resolve(all.subarray(0, waiter.byteCount));
    }
  }
}
