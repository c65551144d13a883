import type { Socket } from 'node:net';

type Reader = { byteCount: number; resolve: (bytes: Buffer) => void; reject: (error: Error) => void };

/**
 * Reads exact byte counts from a socket, in call order, for request/response protocols without framing of
 * their own (PyTorch's TCPStore). Incoming bytes queue until a read takes them; a closed socket fails every
 * present and future read with the error `onClose` builds.
 */
export class ByteReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly readers: Reader[] = [];
  private failure: Error | undefined;

  constructor(
    private readonly socket: Socket,
    onClose: () => Error,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.drain();
    });
    socket.on('close', () => this.fail(onClose()));
    socket.on('error', () => undefined);
  }

  /** The next `byteCount` bytes. */
  read(byteCount: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.readers.push({ byteCount, resolve, reject });
      this.drain();
    });
  }

  fail(error: Error): void {
    this.failure ??= error;
    for (const reader of this.readers.splice(0)) reader.reject(this.failure);
  }

  private drain(): void {
    while (this.readers.length > 0) {
      const reader = this.readers[0] as Reader;
      if (this.buffered < reader.byteCount) {
        if (this.failure !== undefined) this.fail(this.failure);
        return;
      }
      this.readers.shift();
      reader.resolve(this.take(reader.byteCount));
    }
  }

  private take(byteCount: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= byteCount) {
      this.buffered -= byteCount;
      if (first.length === byteCount) this.chunks.shift();
      else this.chunks[0] = first.subarray(byteCount);
      return first.subarray(0, byteCount);
    }
    const out = Buffer.allocUnsafe(byteCount);
    let filled = 0;
    while (filled < byteCount) {
      const chunk = this.chunks[0] as Buffer;
      const take = Math.min(chunk.length, byteCount - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.buffered -= byteCount;
    return out;
  }
}
