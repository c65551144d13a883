// Free lists of Float32Arrays keyed by length: on these machines filling freshly allocated memory costs ~100x
// more than reusing memory already in use (DESIGN.md, performance notes), so the native backend recycles the
// output buffers of disposed tensors.

/** Buffers shorter than this are cheap to allocate and are not pooled. */
export const minimumPooledLength = 4096;

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private pooledBytes = 0;

  constructor(private readonly maximumBytes: number) {}

  /** A buffer of exactly `length` elements; contents are arbitrary when it comes from the pool. */
  take(length: number): Float32Array {
    const list = this.free.get(length);
    const reused = list?.pop();
    if (reused !== undefined) {
      this.pooledBytes -= reused.byteLength;
      return reused;
    }
    return new Float32Array(length);
  }

  /** Keeps `buffer` for a later `take`, unless the pool is full. The caller must hold no other reference. */
  give(buffer: Float32Array): void {
    if (buffer.length < minimumPooledLength || this.pooledBytes + buffer.byteLength > this.maximumBytes) return;
    let list = this.free.get(buffer.length);
    if (list === undefined) {
      list = [];
      this.free.set(buffer.length, list);
    }
    list.push(buffer);
    this.pooledBytes += buffer.byteLength;
  }

  /** Bytes currently held for reuse. */
  get bytes(): number {
    return this.pooledBytes;
  }

  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }
}
