/**
 * Reusable byte buffers keyed by size. Fresh large allocations are slow on these machines (the kernel has to
 * fault every page in), so frame payloads are taken from and given back to this pool.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private pooledBytes = 0;

  constructor(private readonly maxPooledBytes = 256 * 1024 * 1024) {}

  take(byteCount: number): Buffer {
    const list = this.free.get(byteCount);
    const buffer = list?.pop();
    if (buffer !== undefined) {
      this.pooledBytes -= byteCount;
      return buffer;
    }
    // allocUnsafeSlow: byteOffset 0, so Float32Array views are always aligned.
    return Buffer.allocUnsafeSlow(byteCount);
  }

  give(buffer: Buffer): void {
    if (buffer.length === 0 || this.pooledBytes + buffer.length > this.maxPooledBytes) return;
    const list = this.free.get(buffer.length) ?? [];
    list.push(buffer);
    this.free.set(buffer.length, list);
    this.pooledBytes += buffer.length;
  }
}
