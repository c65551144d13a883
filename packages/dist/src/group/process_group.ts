import { ConfigError, DistError } from '@rlhfjs/core';
import type { CollectiveEngine } from '../engine/collective_engine';
import type { BufferPool } from '../transport/buffer_pool';
import type { DirectTarget, Frame, FrameConnection } from '../transport/frame_connection';
import { collectiveArgumentProblems, rejectBadArguments } from './collective_arguments';
import { SimdSum } from '../kernels/simd_sum';
import { OpCode, opName, withDetails } from './op_codes';
import { finishReduce, reduceInto, segmentBounds, type FloatArray, type ReduceOp } from './reduce_op';

export interface ProcessGroupSettings {
  readonly rank: number;
  readonly worldSize: number;
  readonly collectiveTimeoutMs: number;
  readonly ringThresholdBytes: number;
  readonly chunkBytes: number;
}

type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

function bytesOf(array: ArrayBufferView, start = 0, end = array.byteLength): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset + start, end - start);
}

function floatView(payload: Uint8Array, like: FloatArray): FloatArray {
  const constructor = like.constructor as FloatArrayConstructor;
  return new constructor(payload.buffer as ArrayBuffer, payload.byteOffset, payload.length / constructor.BYTES_PER_ELEMENT);
}

/** How long an engine failure waits for the mesh to name the lost peer. */
const ENGINE_FAILURE_GRACE_MS = 500;

/** A peer's abort notice; a malformed one still aborts, as PROTOCOL, instead of throwing in a socket handler. */
const FLOAT_ARRAYS = ['Float32Array', 'Float64Array'];

function parseAbortNotice(text: string): { code: string; message: string; peer?: number } {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) {
      const { code, message, peer } = value as { code?: unknown; message?: unknown; peer?: unknown };
      if (typeof code === 'string' && typeof message === 'string') {
        return { code, message, peer: typeof peer === 'number' && Number.isInteger(peer) ? peer : undefined };
      }
    }
  } catch {
    // fall through
  }
  return { code: 'PROTOCOL', message: `a malformed abort notice (${JSON.stringify(text.slice(0, 80))})` };
}

/**
 * A group of ranks joined by one TCP socket per pair. Collectives run one at a time in call order, each with a
 * sequence number, an op code and byte counts checked on every frame, and each under a deadline. Any failure
 * (a peer's socket closing, a deadline, a desync) aborts the group on this rank: it tells its peers why, closes
 * its sockets, and every later collective throws `DistError('ABORTED')`.
 *
 * With an `engine` (Gloo, when its addon is built), allReduce, broadcast and barrier run on it, still in the
 * group's call order and under its deadline; the other collectives, the abort notices and the liveness probes
 * stay on the TCP mesh. An engine failure aborts the group like any other.
 */
export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  private sequence = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: DistError | undefined;
  private failureReported = false;
  private destroyed = false;
  private readonly departed = new Set<number>();
  private readonly waitingOn = new Set<number>();
  private currentOperation = '';
  private readonly probeReplies = new Set<number>();
  /** Rejects with the failure when the group aborts: an engine call in flight stops waiting for its engine. */
  private readonly aborted: Promise<never>;
  private rejectAborted: (error: DistError) => void = () => undefined;

  constructor(
    private readonly settings: ProcessGroupSettings,
    private readonly peers: ReadonlyArray<FrameConnection | undefined>,
    private readonly pool: BufferPool,
    private readonly onDestroy: () => void = () => undefined,
    private readonly engine?: CollectiveEngine,
  ) {
    this.rank = settings.rank;
    this.worldSize = settings.worldSize;
    this.aborted = new Promise<never>((_, reject) => {
      this.rejectAborted = reject;
    });
    this.aborted.catch(() => undefined);
    peers.forEach((connection, peer) => {
      if (connection === undefined) return;
      connection.onControl = (frame) => this.onControlFrame(peer, frame);
      connection.socket.on('error', (error) => this.peerClosed(peer, error));
      connection.socket.on('close', () => this.peerClosed(peer, undefined));
    });
  }

  /** Which engine carries allReduce, broadcast and barrier: `gloo`, or the pure-JS TCP `ring`. */
  get engineName(): 'gloo' | 'ring' {
    return this.engine?.name ?? 'ring';
  }

  /** Whether the group has failed (and why). */
  get abortReason(): DistError | undefined {
    return this.failure;
  }

  // ---- collectives -------------------------------------------------------------------------------------------

  /**
   * A zero-filled array for collectives, like `new Float32Array(length)` (or Float64Array), but placed where the
   * pure-JS ring sums it in place with WebAssembly SIMD, with no staging copies (DDP's gradient buckets come from
   * here). Every collective accepts any typed array; this one is only faster to all-reduce on the ring. A plain
   * typed array where that gains nothing (below the ring's threshold, a native engine, one rank) or cannot be had
   * (no WebAssembly SIMD, over 4 GiB).
   */
  allocate(length: number): Float32Array;
  allocate(length: number, type: 'float32'): Float32Array;
  allocate(length: number, type: 'float64'): Float64Array;
  allocate(length: number, type: 'float32' | 'float64' = 'float32'): FloatArray {
    if (!Number.isSafeInteger(length) || length < 0) throw new ConfigError(`allocate (rank ${this.rank})`, [`length must be a non-negative integer, got ${String(length)}`]);
    if (type !== 'float32' && type !== 'float64') throw new ConfigError(`allocate (rank ${this.rank})`, [`type must be 'float32' or 'float64', got ${String(type)}`]);
    const plain = (): FloatArray => (type === 'float32' ? new Float32Array(length) : new Float64Array(length));
    // below the ring's threshold (pooled frames, no ring) and on a native engine a plain array is just as fast
    const ringSized = length * (type === 'float32' ? 4 : 8) >= this.settings.ringThresholdBytes;
    return this.engine === undefined && this.worldSize > 1 && ringSized ? (SimdSum.allocate(length, type) ?? plain()) : plain();
  }

  /** Reduce `buffer` across ranks in place; every rank ends with the same bits. */
  allReduce<T extends FloatArray>(buffer: T, op: ReduceOp = 'sum'): Promise<T> {
    const bad = rejectBadArguments(`allReduce (rank ${this.rank})`, collectiveArgumentProblems({ buffer: { value: buffer, accepts: FLOAT_ARRAYS }, op }));
    if (bad !== undefined) return bad;
    return this.run('allReduce', async (seq) => {
      if (this.worldSize === 1) return buffer;
      if (this.engine !== undefined) return this.onEngine(this.engine.allReduce(buffer, op));
      const useRing = buffer.byteLength >= this.settings.ringThresholdBytes && buffer.length >= this.worldSize;
      if (useRing) await this.ringAllReduce(buffer, op, seq);
      else await this.starAllReduce(buffer, op, seq);
      return buffer;
    });
  }

  /** Copy `buffer` of rank `root` into `buffer` of every rank. */
  broadcast<T extends FloatArray | Uint8Array>(buffer: T, root = 0): Promise<T> {
    const bad = rejectBadArguments(
      `broadcast (rank ${this.rank})`,
      collectiveArgumentProblems({ buffer: { value: buffer, accepts: [...FLOAT_ARRAYS, 'Uint8Array'] }, root: { value: root, worldSize: this.worldSize } }),
    );
    if (bad !== undefined) return bad;
    return this.run('broadcast', async (seq) => {
      this.checkRoot(root, 'broadcast');
      if (this.worldSize === 1) return buffer;
      if (this.engine !== undefined) return this.onEngine(this.engine.broadcast(buffer, root));
      if (buffer.byteLength >= this.settings.ringThresholdBytes && this.worldSize > 2) await this.chainBroadcast(buffer, root, seq);
      else await this.starBroadcast(buffer, root, seq);
      return buffer;
    });
  }

  /** Every rank's array (lengths may differ), in rank order; this rank's entry is a copy. */
  allGather(buffer: Float32Array): Promise<Float32Array[]> {
    const bad = rejectBadArguments(`allGather (rank ${this.rank})`, collectiveArgumentProblems({ buffer: { value: buffer, accepts: ['Float32Array'] } }));
    if (bad !== undefined) return bad;
    return this.run('allGather', async (seq) => {
      const op = withDetails(OpCode.allGather, { elementBytes: 4 });
      const parts = await this.exchange(bytesOf(buffer), op, seq);
      return parts.map((part) => new Float32Array(part.buffer, part.byteOffset, part.byteLength / 4));
    });
  }

  /** Every rank's JSON-serializable value, in rank order. */
  allGatherObject<T>(value: T): Promise<T[]> {
    let serialized: string;
    try {
      serialized = JSON.stringify(value) ?? 'null';
    } catch (error) {
      return Promise.reject(new ConfigError(`allGatherObject (rank ${this.rank})`, [`value is not JSON-serializable: ${String(error)}`], { cause: error }));
    }
    return this.run('allGatherObject', async (seq) => {
      const parts = await this.exchange(Buffer.from(serialized, 'utf8'), OpCode.allGatherObject, seq);
      return parts.map((part) => JSON.parse(Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('utf8')) as T);
    });
  }

  /** Rank `root`'s JSON-serializable value on every rank (a JSON round trip on the root too). */
  broadcastObject<T>(value: T, root = 0): Promise<T> {
    const bad = rejectBadArguments(`broadcastObject (rank ${this.rank})`, collectiveArgumentProblems({ root: { value: root, worldSize: this.worldSize } }));
    if (bad !== undefined) return bad;
    let serialized: string | undefined;
    if (this.rank === root) {
      try {
        serialized = JSON.stringify(value) ?? 'null';
      } catch (error) {
        return Promise.reject(new ConfigError(`broadcastObject (rank ${this.rank})`, [`value is not JSON-serializable: ${String(error)}`], { cause: error }));
      }
    }
    return this.run('broadcastObject', async (seq) => {
      this.checkRoot(root, 'broadcastObject');
      const op = withDetails(OpCode.broadcastObject, { root });
      let text: string;
      if (this.rank === root) {
        text = serialized ?? 'null';
        const bytes = Buffer.from(text, 'utf8');
        await Promise.all(this.otherRanks().map((peer) => this.sendSized(peer, op, seq, bytes)));
      } else {
        const bytes = await this.receiveSized(root, op, seq);
        text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
      }
      return JSON.parse(text) as T;
    });
  }

  /**
   * Reduce `input` across ranks and return this rank's segment of the result (the balanced split of
   * `segmentBounds`: the first `length % worldSize` ranks get one element more). `input` is not modified.
   */
  reduceScatter(input: Float32Array, op: ReduceOp = 'sum'): Promise<Float32Array> {
    const bad = rejectBadArguments(`reduceScatter (rank ${this.rank})`, collectiveArgumentProblems({ buffer: { value: input, accepts: ['Float32Array'] }, op }));
    if (bad !== undefined) return bad;
    return this.run('reduceScatter', async (seq) => {
      const work = new Float32Array(input);
      if (this.worldSize > 1) await this.ringReduceScatter(work, op, withDetails(OpCode.reduceScatter, { reduce: op, elementBytes: 4 }), seq);
      const [start, end] = segmentBounds(work.length, this.worldSize, this.rank);
      finishReduce(work, start, end, op, this.worldSize);
      return work.slice(start, end);
    });
  }

  /** Wait until every rank has reached this barrier. */
  barrier(): Promise<void> {
    return this.run('barrier', async (seq) => {
      if (this.worldSize === 1) return;
      if (this.engine !== undefined) return this.onEngine(this.engine.barrier());
      const empty = new Uint8Array(0);
      if (this.rank === 0) {
        const frames = await Promise.all(this.otherRanks().map((peer) => this.receive(peer, OpCode.barrier, seq, 0)));
        frames.forEach((frame, index) => this.connection(index + 1).release(frame));
        await Promise.all(this.otherRanks().map((peer) => this.send(peer, OpCode.barrier, seq, empty)));
      } else {
        await this.send(0, OpCode.barrier, seq, empty);
        this.connection(0).release(await this.receive(0, OpCode.barrier, seq, 0));
      }
    });
  }

  /** Say goodbye to every peer and close every socket. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.chain.catch(() => undefined);
    await this.engine?.destroy();
    for (const connection of this.peers) {
      if (connection === undefined || connection.socket.destroyed) continue;
      connection.send(OpCode.bye, 0, new Uint8Array(0)).catch(() => undefined);
      connection.socket.end();
      setTimeout(() => connection.socket.destroy(), 1000).unref();
    }
    this.failure ??= new DistError('ABORTED', `ProcessGroup: rank ${this.rank}: the group was destroyed`);
    this.failureReported = true;
    this.onDestroy();
  }

  // ---- algorithms ----------------------------------------------------------------------------------------

  /**
   * An engine call, abandoned (the group's failure thrown instead) as soon as the group aborts. When the engine
   * fails first, the mesh gets a moment to say which peer is gone (Gloo's errors do not name it): a peer's
   * sockets close on the mesh too, and that failure, naming the peer, is the one thrown.
   */
  private async onEngine<T>(call: Promise<T>): Promise<T> {
    try {
      return await Promise.race([call, this.aborted]);
    } catch (error) {
      if (this.failure === undefined) {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ENGINE_FAILURE_GRACE_MS);
        });
        await Promise.race([grace, this.aborted.catch(() => undefined)]);
        clearTimeout(timer);
      }
      throw this.failure ?? error;
    }
  }

  /** Small buffers: everyone sends to rank 0, which reduces in rank order and sends the result back. */
  private async starAllReduce(buffer: FloatArray, op: ReduceOp, seq: number): Promise<void> {
    const code = withDetails(OpCode.allReduceStar, { reduce: op, elementBytes: buffer.BYTES_PER_ELEMENT });
    if (this.rank === 0) {
      const frames = await Promise.all(this.otherRanks().map((peer) => this.receive(peer, code, seq, buffer.byteLength)));
      frames.forEach((frame, index) => {
        reduceInto(buffer, 0, floatView(frame.payload, buffer), op);
        this.connection(index + 1).release(frame);
      });
      finishReduce(buffer, 0, buffer.length, op, this.worldSize);
      await Promise.all(this.otherRanks().map((peer) => this.send(peer, code, seq, bytesOf(buffer))));
    } else {
      await this.send(0, code, seq, bytesOf(buffer));
      const frame = await this.receive(0, code, seq, buffer.byteLength);
      bytesOf(buffer).set(frame.payload);
      this.connection(0).release(frame);
    }
  }

  /**
   * Ring reduce-scatter: in step s rank r sends segment (r−1−s) to rank r+1 and adds segment (r−2−s) from rank
   * r−1, in frames of `chunkBytes` so that reducing one frame overlaps receiving the next. After n−1 steps rank r
   * holds the finished segment r; segment k was summed in the fixed order k+1, k+2, …, k.
   */
  private async ringReduceScatter(buffer: FloatArray, op: ReduceOp, code: number, seq: number): Promise<void> {
    const n = this.worldSize;
    for (let step = 0; step < n - 1; step += 1) {
      const sendSegment = (((this.rank - 1 - step) % n) + n) % n;
      const receiveSegment = (((this.rank - 2 - step) % n) + n) % n;
      await Promise.all([
        this.sendSegment(buffer, sendSegment, code, seq),
        this.receiveSegment(buffer, receiveSegment, code, seq, (offset, incoming) => reduceInto(buffer, offset, incoming, op)),
      ]);
    }
  }

  /**
   * Large buffers: a streaming ring. Reduce-scatter then all-gather, as 2(n−1) ring steps over the segments of
   * `segmentBounds`, but pipelined chunk by chunk instead of step by step: a chunk is forwarded to the right as
   * soon as it has been reduced (or, in the all-gather, received) — it does not wait for the rest of its
   * segment, nor for the step to end, and the all-gather of a finished chunk overlaps the reduce-scatter of the
   * next. Frames from the left therefore arrive in (step, chunk) order, which is the order they are read in.
   * Chunks are reduced from the received frame straight into `buffer` and sent from `buffer` (no staging copy).
   * Arithmetic is that of the unpipelined ring: segment k is summed in the fixed order k+1, k+2, …, k on rank k
   * and copied from there, so every rank ends with identical bits.
   */
  private async ringAllReduce(buffer: FloatArray, op: ReduceOp, seq: number): Promise<void> {
    // a buffer from `allocate` has a landing area beside it: reads land there and are summed in place, no copies
    const owner = SimdSum.owning(buffer);
    const landing = owner?.claimLanding();
    try {
      await this.streamingRing(buffer, op, seq, landing);
    } finally {
      if (landing !== undefined) owner?.releaseLanding();
    }
  }

  /** The ring of `ringAllReduce`; reduce-scatter reads land in `landing` when given (else the connection's own). */
  private async streamingRing(buffer: FloatArray, op: ReduceOp, seq: number, landing: Buffer | undefined): Promise<void> {
    const n = this.worldSize;
    const rank = this.rank;
    const code = withDetails(OpCode.allReduceRing, { reduce: op, elementBytes: buffer.BYTES_PER_ELEMENT });
    const size = buffer.BYTES_PER_ELEMENT;
    const chunk = this.chunkElements(buffer);
    const right = (rank + 1) % n;
    const left = (rank - 1 + n) % n;
    const segmentOf = (offset: number): number => ((offset % n) + n) % n;
    // A chunk's memory may still be queued in the socket when a later step overwrites it: the write of the chunk
    // at each offset is awaited before its all-gather copy lands there.
    const inFlight = new Map<number, Promise<void>>();
    const settled = new Set<number>();
    const writes: Array<Promise<void>> = [];
    const forward = (start: number, end: number): void => {
      settled.delete(start);
      const write = this.send(right, code, seq, bytesOf(buffer, start * size, end * size));
      write.then(
        () => settled.add(start),
        () => undefined, // observed below; a failure also fails the receives (the group aborts)
      );
      inFlight.set(start, write);
      writes.push(write);
    };
    // The all-gather frames from the left land straight in `buffer` (no staging copy) when the chunk they
    // overwrite has been handed to the kernel by then; they are the frames after the reduce-scatter's.
    const targets = new Map<number, DirectTarget>();
    let ordinal = 0;
    for (let step = 0; step < 2 * (n - 1); step += 1) {
      const reducingStep = step < n - 1;
      const segment = reducingStep ? segmentOf(rank - 2 - step) : segmentOf(rank - 1 - (step - (n - 1)));
      const [segmentStart, segmentEnd] = segmentBounds(buffer.length, n, segment);
      for (let start = segmentStart; start < segmentEnd; start += chunk, ordinal += 1) {
        const end = Math.min(segmentEnd, start + chunk);
        // Always ready. Reduce-scatter: this chunk is sent only after it is received. All-gather: its frame can
        // only arrive once the chunk is fully reduced, which needs the right neighbour to have received this
        // rank's reduce-scatter send of it, so those bytes have left `buffer` even if the write's callback (one
        // per writev batch) has not run yet. Waiting for that callback sent half the all-gather frames of a
        // 100 MB all-reduce through the pool and a second copy.
        const ready = (): boolean => true;
        // reduce-scatter frames are summed into `buffer` straight from the socket's read buffer as they arrive
        const accumulate = reducingStep
          ? { elementBytes: size, combine: (byteOffset: number, incoming: Uint8Array) => reduceInto(buffer, start + byteOffset / size, floatView(incoming, buffer), op), landing }
          : undefined;
        targets.set(ordinal, { bytes: bytesOf(buffer, start * size, end * size), ready, accumulate });
      }
    }
    const leftConnection = this.connection(left);
    leftConnection.planDirect(code, seq, targets);
    // reduce-scatter step 0 sends this rank's own data of segment r−1
    const [firstStart, firstEnd] = segmentBounds(buffer.length, n, segmentOf(rank - 1));
    for (let start = firstStart; start < firstEnd; start += chunk) forward(start, Math.min(firstEnd, start + chunk));
    const lastStep = 2 * (n - 1) - 1;
    for (let step = 0; step <= lastStep; step += 1) {
      const reducing = step < n - 1;
      // reduce-scatter step s receives segment r−2−s; all-gather step t = s−(n−1) receives segment r−1−t
      const segment = reducing ? segmentOf(rank - 2 - step) : segmentOf(rank - 1 - (step - (n - 1)));
      const [segmentStart, segmentEnd] = segmentBounds(buffer.length, n, segment);
      for (let start = segmentStart; start < segmentEnd; start += chunk) {
        const end = Math.min(segmentEnd, start + chunk);
        const frame = await this.receive(left, code, seq, (end - start) * size);
        const incoming = floatView(frame.payload, buffer);
        if (reducing) {
          if (frame.accumulated !== true) reduceInto(buffer, start, incoming, op);
          if (step === n - 2) finishReduce(buffer, start, end, op, n); // segment r is complete here
        } else if (frame.direct !== true) {
          await inFlight.get(start);
          buffer.set(incoming, start);
        }
        this.connection(left).release(frame);
        if (step < lastStep) forward(start, end);
      }
    }
    leftConnection.clearPlan();
    await Promise.all(writes);
  }

  private chunkElements(buffer: FloatArray): number {
    return Math.max(1, Math.floor(this.settings.chunkBytes / buffer.BYTES_PER_ELEMENT));
  }

  private async sendSegment(buffer: FloatArray, segment: number, code: number, seq: number): Promise<void> {
    const [start, end] = segmentBounds(buffer.length, this.worldSize, segment);
    const right = (this.rank + 1) % this.worldSize;
    const size = buffer.BYTES_PER_ELEMENT;
    const writes: Array<Promise<void>> = [];
    for (let offset = start; offset < end; offset += this.chunkElements(buffer)) {
      const chunkEnd = Math.min(end, offset + this.chunkElements(buffer));
      writes.push(this.send(right, code, seq, bytesOf(buffer, offset * size, chunkEnd * size)));
    }
    await Promise.all(writes);
  }

  private async receiveSegment(
    buffer: FloatArray,
    segment: number,
    code: number,
    seq: number,
    combine: (offset: number, incoming: FloatArray) => void,
  ): Promise<void> {
    const [start, end] = segmentBounds(buffer.length, this.worldSize, segment);
    const left = (this.rank - 1 + this.worldSize) % this.worldSize;
    for (let offset = start; offset < end; offset += this.chunkElements(buffer)) {
      const chunkEnd = Math.min(end, offset + this.chunkElements(buffer));
      const frame = await this.receive(left, code, seq, (chunkEnd - offset) * buffer.BYTES_PER_ELEMENT);
      combine(offset, floatView(frame.payload, buffer));
      this.connection(left).release(frame);
    }
  }

  private async starBroadcast(buffer: FloatArray | Uint8Array, root: number, seq: number): Promise<void> {
    const code = withDetails(OpCode.broadcastStar, { elementBytes: buffer.BYTES_PER_ELEMENT, root });
    if (this.rank === root) {
      await Promise.all(this.otherRanks().map((peer) => this.sendChunked(peer, code, seq, bytesOf(buffer))));
    } else {
      await this.receiveChunkedInto(root, code, seq, bytesOf(buffer));
    }
  }

  /** Large broadcasts: a pipelined chain root → root+1 → …, each rank forwarding a chunk as soon as it has it. */
  private async chainBroadcast(buffer: FloatArray | Uint8Array, root: number, seq: number): Promise<void> {
    const n = this.worldSize;
    const code = withDetails(OpCode.broadcastChain, { elementBytes: buffer.BYTES_PER_ELEMENT, root });
    const position = (this.rank - root + n) % n;
    const previous = (this.rank - 1 + n) % n;
    const next = (this.rank + 1) % n;
    const bytes = bytesOf(buffer);
    const chunk = this.settings.chunkBytes;
    const writes: Array<Promise<void>> = [];
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      const end = Math.min(bytes.length, offset + chunk);
      if (position > 0) {
        const frame = await this.receive(previous, code, seq, end - offset);
        bytes.set(frame.payload, offset);
        this.connection(previous).release(frame);
      }
      if (position < n - 1) writes.push(this.send(next, code, seq, bytes.subarray(offset, end)));
    }
    await Promise.all(writes);
  }

  /** Send `bytes` to every peer and receive theirs; returns every rank's bytes in rank order. */
  private async exchange(bytes: Uint8Array, code: number, seq: number): Promise<Uint8Array[]> {
    const sends = Promise.all(this.otherRanks().map((peer) => this.sendSized(peer, code, seq, bytes)));
    const parts: Uint8Array[] = new Array(this.worldSize);
    parts[this.rank] = new Uint8Array(bytes);
    await Promise.all(
      this.otherRanks().map(async (peer) => {
        parts[peer] = await this.receiveSized(peer, code, seq);
      }),
    );
    await sends;
    return parts;
  }

  // ---- plumbing ----------------------------------------------------------------------------------------------

  /** `bytes` as frames of at most `chunkBytes` (one empty frame when there are none): no frame exceeds the cap. */
  private async sendChunked(peer: number, code: number, seq: number, bytes: Uint8Array): Promise<void> {
    const chunk = this.settings.chunkBytes;
    const writes: Array<Promise<void>> = [];
    for (let offset = 0; offset === 0 || offset < bytes.byteLength; offset += chunk) {
      writes.push(this.send(peer, code, seq, bytes.subarray(offset, Math.min(bytes.byteLength, offset + chunk))));
    }
    await Promise.all(writes);
  }

  /** The counterpart of `sendChunked`, straight into `target` (whose size both sides know). */
  private async receiveChunkedInto(peer: number, code: number, seq: number, target: Uint8Array): Promise<void> {
    const chunk = this.settings.chunkBytes;
    for (let offset = 0; offset === 0 || offset < target.byteLength; offset += chunk) {
      const end = Math.min(target.byteLength, offset + chunk);
      const frame = await this.receive(peer, code, seq, end - offset);
      target.set(frame.payload, offset);
      this.connection(peer).release(frame);
    }
  }

  /** A byte count the receiver does not know yet: an 8-byte length frame, then `sendChunked`. */
  private async sendSized(peer: number, code: number, seq: number, bytes: Uint8Array): Promise<void> {
    const length = Buffer.allocUnsafe(8);
    length.writeDoubleLE(bytes.byteLength);
    await Promise.all([this.send(peer, code, seq, length), this.sendChunked(peer, code, seq, bytes)]);
  }

  /**
   * The counterpart of `sendSized`. The announced length is not allocated up front: the chunks are kept as they
   * arrive and joined at the end, so a peer cannot make this rank allocate more than it actually sent.
   */
  private async receiveSized(peer: number, code: number, seq: number): Promise<Uint8Array> {
    const header = await this.receive(peer, code, seq, 8);
    const total = header.payload.readDoubleLE(0);
    this.connection(peer).release(header);
    if (!Number.isSafeInteger(total) || total < 0) {
      const error = new DistError('PROTOCOL', `${this.currentOperation}: rank ${this.rank}: rank ${peer} announced a length of ${total} bytes`, { peer });
      this.abort(error);
      throw error;
    }
    const chunk = this.settings.chunkBytes;
    const parts: Buffer[] = [];
    for (let offset = 0; offset === 0 || offset < total; offset += chunk) {
      const frame = await this.receive(peer, code, seq, Math.min(total, offset + chunk) - offset);
      parts.push(Buffer.from(frame.payload));
      this.connection(peer).release(frame);
    }
    return new Uint8Array(Buffer.concat(parts, total));
  }

  private otherRanks(): number[] {
    return Array.from({ length: this.worldSize }, (_, peer) => peer).filter((peer) => peer !== this.rank);
  }

  private connection(peer: number): FrameConnection {
    const connection = this.peers[peer];
    if (connection === undefined) throw new DistError('PEER_LOST', `ProcessGroup: rank ${this.rank} has no connection to rank ${peer}`, { peer });
    return connection;
  }

  private checkRoot(root: number, where: string): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      throw new DistError('DESYNC', `${where}: root ${root} is not a rank of a group of ${this.worldSize}`);
    }
  }

  private async send(peer: number, op: number, seq: number, payload: Uint8Array): Promise<void> {
    try {
      await this.connection(peer).send(op, seq, payload);
    } catch (error) {
      throw this.failure ?? this.lost(peer, error);
    }
  }

  /** The next frame from `peer`, checked against the op code, sequence number and (when given) byte count. */
  private async receive(peer: number, op: number, seq: number, byteCount?: number): Promise<Frame> {
    this.waitingOn.add(peer);
    let frame: Frame;
    try {
      frame = await this.connection(peer).next();
    } finally {
      this.waitingOn.delete(peer);
    }
    if (frame.op !== op || frame.seq !== seq || (byteCount !== undefined && frame.payload.length !== byteCount)) {
      const error = new DistError(
        'DESYNC',
        `${this.currentOperation}: rank ${this.rank} expected ${opName(op)} #${seq}` +
          `${byteCount === undefined ? '' : ` of ${byteCount} bytes`} from rank ${peer}, got ${opName(frame.op)} #${frame.seq} ` +
          `of ${frame.payload.length} bytes (ranks called different collectives or different sizes)`,
        { peer },
      );
      this.connection(peer).release(frame);
      this.abort(error);
      throw error;
    }
    return frame;
  }

  private lost(peer: number, cause: unknown): DistError {
    return new DistError('PEER_LOST', `${this.currentOperation || 'ProcessGroup'}: rank ${this.rank} lost rank ${peer}`, { peer, cause });
  }

  private run<T>(name: string, body: (seq: number) => Promise<T>): Promise<T> {
    const task = async (): Promise<T> => {
      if (this.failure !== undefined) {
        if (!this.failureReported) {
          this.failureReported = true;
          throw this.failure;
        }
        throw new DistError('ABORTED', `${name}: the group was aborted earlier on rank ${this.rank}: ${this.failure.message}`, {
          cause: this.failure,
          peer: this.failure.peer,
        });
      }
      this.sequence += 1;
      const seq = this.sequence;
      this.currentOperation = `${name} #${seq}`;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          this.blame().then((peer) => {
            const error = new DistError(
              'TIMEOUT',
              `${name} #${seq}: rank ${this.rank} passed its ${this.settings.collectiveTimeoutMs} ms deadline` +
                `${peer === undefined ? '' : `; rank ${peer} ${this.probeReplies.has(peer) ? 'is alive but did not send' : 'does not respond'}`}`,
              { peer },
            );
            this.abort(error);
            reject(this.failure ?? error);
          }, reject);
        }, this.settings.collectiveTimeoutMs);
      });
      try {
        return await Promise.race([body(seq), deadline]);
      } catch (error) {
        const failure = this.failure ?? (error instanceof DistError ? error : this.lost(-1, error));
        this.abort(failure);
        this.failureReported = true;
        throw failure;
      } finally {
        clearTimeout(timer);
      }
    };
    const result = this.chain.then(task, task);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /**
   * Which peer to name in a TIMEOUT: probe every peer and wait briefly for the answers; a peer whose event loop
   * does not answer (stopped, hung) is the culprit, preferring the one this rank waits on. Otherwise the peer
   * this rank waits on (alive, but it never sent: it is stuck in another collective or never called this one).
   */
  private async blame(): Promise<number | undefined> {
    const waiting = [...this.waitingOn][0];
    this.probeReplies.clear();
    for (const peer of this.otherRanks()) {
      const connection = this.peers[peer];
      if (connection !== undefined && !connection.socket.destroyed) connection.send(OpCode.probe, 0, new Uint8Array(0)).catch(() => undefined);
    }
    const probeMs = Math.min(400, Math.max(50, this.settings.collectiveTimeoutMs / 4));
    await new Promise((resolve) => setTimeout(resolve, probeMs));
    const silent = this.otherRanks().filter((peer) => !this.probeReplies.has(peer));
    if (waiting !== undefined && silent.includes(waiting)) return waiting;
    return silent[0] ?? waiting;
  }

  private onControlFrame(peer: number, frame: Frame): void {
    const text = frame.payload.toString('utf8');
    this.connection(peer).release(frame);
    if (frame.op === OpCode.probe) {
      this.connection(peer).send(OpCode.probeReply, 0, new Uint8Array(0)).catch(() => undefined);
      return;
    }
    if (frame.op === OpCode.probeReply) {
      this.probeReplies.add(peer);
      return;
    }
    if (frame.op === OpCode.bye) {
      this.departed.add(peer);
      this.connection(peer).fail(new DistError('PEER_LOST', `rank ${peer} destroyed its process group`, { peer }));
      return;
    }
    if (frame.op === OpCode.abort) {
      const remote = parseAbortNotice(text);
      this.abort(
        new DistError(remote.code, `rank ${this.rank}: rank ${peer} aborted the group: ${remote.message}`, {
          peer: remote.peer ?? peer,
        }),
        peer,
      );
    }
  }

  private peerClosed(peer: number, cause: Error | undefined): void {
    if (this.destroyed || this.failure !== undefined) return;
    if (this.departed.has(peer)) return;
    const reason = this.peers[peer]?.failureReason;
    this.abort(reason instanceof DistError && reason.code === 'PROTOCOL' ? new DistError('PROTOCOL', `rank ${this.rank}: rank ${peer}: ${reason.message}`, { peer }) : this.lost(peer, cause));
  }

  /** Fail the group on this rank: tell every peer why (except `from`), fail pending receives, close the sockets. */
  private abort(error: DistError, from?: number): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.rejectAborted(error);
    this.engine?.destroy().catch(() => undefined);
    const notice = Buffer.from(JSON.stringify({ code: error.code, message: error.message, peer: error.peer }), 'utf8');
    this.peers.forEach((connection, peer) => {
      if (connection === undefined) return;
      connection.fail(error);
      if (peer !== from && !connection.socket.destroyed) connection.send(OpCode.abort, 0, notice).catch(() => undefined);
      connection.socket.end();
      setTimeout(() => connection.socket.destroy(), 200).unref();
    });
    this.onDestroy();
  }
}
