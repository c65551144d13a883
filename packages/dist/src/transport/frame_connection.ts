import type { Socket } from 'node:net';
import { DistError } from '@rlhfjs/core';
import { SimdSum } from '../kernels/simd_sum';
import type { BufferPool } from './buffer_pool';
import type { SocketFeed } from './socket_feed';

/** Every frame starts with this 16-byte header: magic, op code, sequence number, payload byte count. */
export const FRAME_HEADER_BYTES = 16;
const FRAME_MAGIC = 0x524a4446; // "RJDF"
/** Op codes from here up are control frames (hello, abort, bye), handled outside the collectives. */
export const CONTROL_OP_BASE = 0xf000;

export interface Frame {
  readonly op: number;
  readonly seq: number;
  /** From the pool; hand it back with `release()` once read. */
  readonly payload: Buffer;
  /** The payload was received straight into a planned destination (see `planDirect`); it is not pooled. */
  readonly direct?: boolean;
  /** The payload was already combined into its planned destination by the target's `accumulate` (see there). */
  readonly accumulated?: boolean;
}

/** Where the payload of one expected frame should land, so that no staging copy is needed. */
export interface DirectTarget {
  readonly bytes: Uint8Array;
  /** Checked when the frame's header arrives: false (the memory is still being sent) means use the pool. */
  readonly ready: () => boolean;
  /**
   * Combine the payload into `bytes` as it arrives, straight from the socket's read buffer, instead of storing it:
   * `combine(byteOffset, incoming)` gets whole elements only, `incoming` aligned to `elementBytes`, and must not
   * keep `incoming` (it is the read buffer). The frame is then delivered with `accumulated: true`. `landing`: where
   * the reads should land instead of the connection's own landing buffer (at least 1 MiB + 8 bytes, 8-aligned), e.g.
   * memory the combine can reach without a copy.
   */
  readonly accumulate?: { readonly elementBytes: number; readonly combine: (byteOffset: number, incoming: Uint8Array) => void; readonly landing?: Buffer };
}

/** A frame being received: `fill` bytes stored or combined so far, plus `carryFill` bytes of a split element. */
interface PendingFrame {
  op: number;
  seq: number;
  payload: Buffer;
  fill: number;
  direct: boolean;
  accumulate: DirectTarget['accumulate'];
  carryFill: number;
  /** Where this frame's accumulating reads land (set by `readTarget`). */
  landing?: Buffer;
}

type Waiter = { resolve: (frame: Frame) => void; reject: (error: Error) => void };

/**
 * Between frames, reads go to the feed's reusable buffer but take at most this much: a header and a small frame
 * or two, and at most this much of a large payload (which is copied from there; the rest is read in place).
 */
const BETWEEN_FRAMES_READ_BYTES = 4096;
/** Reads of an accumulating payload land in an aligned scratch buffer of this size, then are combined. */
const ACCUMULATE_READ_BYTES = 1024 * 1024;

/**
 * A socket carrying length-prefixed frames. Incoming frames queue until `next()` takes them; payloads are
 * assembled straight into pooled buffers. A malformed header is reported through `onProtocolError`.
 */
export class FrameConnection {
  private readonly queue: Frame[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private current: PendingFrame | undefined;
  /** An element split between two reads, when accumulating (8 bytes: a Float64). */
  private readonly carry = new Uint8Array(8);
  /** Aligned copy of a read whose payload bytes start at an unaligned offset, when accumulating. */
  private scratch = new Uint8Array(0);
  /** The region the last `readTarget()` handed out: a chunk that is a view of it was read in place. */
  private handedOut: { readonly region: Buffer; readonly carried: number } | undefined;
  /** Aligned landing buffer of accumulating reads (split element first, then the read). */
  private landing: Buffer | undefined;
  /** Where reads between frames land: a header and a little more. */
  private betweenFrames: Buffer | undefined;
  /** Planned destinations of the frames of one collective (op code, sequence number), by arrival ordinal. */
  private plan: { op: number; seq: number; targets: Map<number, DirectTarget> } | undefined;
  private lastData: { op: number; seq: number; ordinal: number } = { op: -1, seq: -1, ordinal: -1 };
  private failure: Error | undefined;
  /** Receives control frames (op code >= CONTROL_OP_BASE) instead of the queue. */
  onControl: (frame: Frame) => void = () => undefined;

  constructor(
    readonly socket: Socket,
    private readonly pool: BufferPool,
    private readonly onProtocolError: (message: string) => void,
    /** Frames announcing more payload bytes than this are refused before anything is allocated. */
    readonly maxPayloadBytes: number = 64 * 1024,
    /** Read through this feed's reusable buffer instead of 'data' events. */
    feed?: SocketFeed,
  ) {
    socket.setNoDelay(true);
    if (feed !== undefined) feed.attach((chunk) => this.consume(chunk), () => this.readTarget());
    else socket.on('data', (chunk: Buffer) => this.consume(chunk));
    socket.resume();
  }

  /** Fail every present and future `next()` with this error. */
  fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** Why this connection failed, if it did. */
  get failureReason(): Error | undefined {
    return this.failure;
  }

  private protocolError(message: string): void {
    const where = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
    this.fail(new DistError('PROTOCOL', `FrameConnection(${where}): ${message}; closed the connection`));
    this.onProtocolError(message);
  }

  next(): Promise<Frame> {
    const frame = this.queue.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(frame: Frame): void {
    if (frame.direct !== true) this.pool.give(frame.payload);
  }

  /**
   * Receive the frames of collective (op, seq) whose arrival ordinal (0 for its first frame on this connection)
   * is a key of `targets` straight into that memory, when it matches the announced size and is `ready()`.
   * Frames that arrived before the plan, or do not match, go through the pool as usual.
   */
  planDirect(op: number, seq: number, targets: Map<number, DirectTarget>): void {
    this.plan = { op, seq, targets };
  }

  clearPlan(): void {
    this.plan = undefined;
  }

  private payloadFor(op: number, seq: number, byteCount: number): { payload: Buffer; direct: boolean; accumulate: DirectTarget['accumulate'] } {
    if (op >= CONTROL_OP_BASE && op <= 0xffff) return { payload: this.pool.take(byteCount), direct: false, accumulate: undefined };
    const last = this.lastData;
    const ordinal = last.op === op && last.seq === seq ? last.ordinal + 1 : 0;
    this.lastData = { op, seq, ordinal };
    const target = this.plan !== undefined && this.plan.op === op && this.plan.seq === seq ? this.plan.targets.get(ordinal) : undefined;
    if (target !== undefined && target.bytes.byteLength === byteCount && target.ready()) {
      const accumulate = target.accumulate !== undefined && byteCount % target.accumulate.elementBytes === 0 ? target.accumulate : undefined;
      return { payload: Buffer.from(target.bytes.buffer, target.bytes.byteOffset, target.bytes.byteLength), direct: true, accumulate };
    }
    return { payload: this.pool.take(byteCount), direct: false, accumulate: undefined };
  }

  /** Write one frame; resolves once the payload has been handed to the kernel (the caller may then reuse it). */
  send(op: number, seq: number, payload: Uint8Array): Promise<void> {
    if (payload.byteLength > this.maxPayloadBytes) {
      return Promise.reject(new Error(`FrameConnection.send: ${payload.byteLength} bytes is above the ${this.maxPayloadBytes}-byte frame limit`));
    }
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32LE(FRAME_MAGIC, 0);
    header.writeUInt32LE(op, 4);
    header.writeUInt32LE(seq >>> 0, 8);
    header.writeUInt32LE(payload.byteLength, 12);
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(this.failure ?? new Error('socket is closed'));
        return;
      }
      this.socket.cork();
      this.socket.write(header);
      this.socket.write(payload, (error) => (error ? reject(error) : resolve()));
      this.socket.uncork();
    });
  }

  private deliver(frame: Frame): void {
    if (frame.op >= CONTROL_OP_BASE && frame.op <= 0xffff) {
      this.onControl(frame);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve(frame);
    else this.queue.push(frame);
  }

  /** Combine chunk[from, to) into the frame's target: a split element through `carry`, unaligned bytes through `scratch`. */
  private accumulate(current: PendingFrame, accumulate: NonNullable<DirectTarget['accumulate']>, chunk: Buffer, from: number, to: number): void {
    const elementBytes = accumulate.elementBytes;
    let offset = from;
    if (current.carryFill > 0) {
      const take = Math.min(elementBytes - current.carryFill, to - offset);
      chunk.copy(this.carry, current.carryFill, offset, offset + take);
      current.carryFill += take;
      offset += take;
      if (current.carryFill < elementBytes) return;
      accumulate.combine(current.fill, this.carry.subarray(0, elementBytes));
      current.fill += elementBytes;
      current.carryFill = 0;
    }
    const whole = to - offset - ((to - offset) % elementBytes);
    if (whole > 0) {
      let incoming: Uint8Array = chunk.subarray(offset, offset + whole);
      if (incoming.byteOffset % elementBytes !== 0) {
        if (this.scratch.byteLength < whole) this.scratch = new Uint8Array(Math.max(whole, 1024 * 1024));
        this.scratch.set(incoming);
        incoming = this.scratch.subarray(0, whole);
      }
      accumulate.combine(current.fill, incoming);
      current.fill += whole;
      offset += whole;
    }
    if (offset < to) {
      chunk.copy(this.carry, 0, offset, to);
      current.carryFill = to - offset;
    }
  }

  /**
   * Where the next read should land (asked by the feed after every read). Inside a payload: the rest of it, in
   * place (the kernel copies straight into the frame's destination), or, when accumulating, an aligned landing
   * buffer after the carried part of a split element. Between frames: a small buffer (a header, small frames,
   * at most a few KiB of a large payload, copied from there); undefined after a failure (the feed's own buffer).
   * A region never extends past the current frame, so a read never mixes two frames.
   */
  private readTarget(): Buffer | undefined {
    this.handedOut = undefined;
    const current = this.current;
    if (this.failure !== undefined) return undefined;
    if (current === undefined) {
      this.betweenFrames ??= Buffer.allocUnsafeSlow(BETWEEN_FRAMES_READ_BYTES);
      return this.betweenFrames;
    }
    const remaining = current.payload.length - current.fill - current.carryFill;
    if (remaining <= 0) return undefined;
    if (current.accumulate === undefined) {
      const region = current.payload.subarray(current.fill, current.payload.length);
      this.handedOut = { region, carried: 0 };
      return region;
    }
    // The target's own landing area, else this connection's: WebAssembly memory where available, so the reads are
    // summed with SIMD without a copy, or allocUnsafeSlow (byteOffset 0). Element views of either are aligned.
    const landing = current.accumulate.landing ?? (this.landing ??= SimdSum.create()?.landing ?? Buffer.allocUnsafeSlow(ACCUMULATE_READ_BYTES + 8));
    current.landing = landing;
    const carried = current.carryFill;
    landing.set(this.carry.subarray(0, carried), 0);
    const region = landing.subarray(carried, carried + Math.min(remaining, ACCUMULATE_READ_BYTES));
    this.handedOut = { region, carried };
    return region;
  }

  /** A chunk read in place into the region `readTarget()` handed out: account for it (and combine it) without a copy. */
  private consumeInPlace(chunk: Buffer, carried: number): void {
    const current = this.current as PendingFrame;
    const accumulate = current.accumulate;
    if (accumulate === undefined) current.fill += chunk.length;
    else {
      const landing = current.landing as Buffer;
      const total = carried + chunk.length;
      const whole = total - (total % accumulate.elementBytes);
      if (whole > 0) accumulate.combine(current.fill, landing.subarray(0, whole));
      current.fill += whole;
      current.carryFill = total - whole;
      if (current.carryFill > 0) this.carry.set(landing.subarray(whole, total), 0);
    }
    if (current.fill === current.payload.length) {
      this.current = undefined;
      this.deliver({ op: current.op, seq: current.seq, payload: current.payload, direct: current.direct, accumulated: accumulate !== undefined });
    }
  }

  private consume(chunk: Buffer): void {
    const handedOut = this.handedOut;
    this.handedOut = undefined;
    if (
      handedOut !== undefined &&
      this.current !== undefined &&
      this.failure === undefined &&
      chunk.buffer === handedOut.region.buffer &&
      chunk.byteOffset === handedOut.region.byteOffset &&
      chunk.length <= handedOut.region.length
    ) {
      this.consumeInPlace(chunk, handedOut.carried);
      return;
    }
    let offset = 0;
    while (offset < chunk.length && this.failure === undefined) {
      if (this.current === undefined) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + take);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < FRAME_HEADER_BYTES) return;
        this.headerFill = 0;
        if (this.header.readUInt32LE(0) !== FRAME_MAGIC) {
          this.protocolError(`bad frame magic 0x${this.header.readUInt32LE(0).toString(16)}`);
          return;
        }
        const byteCount = this.header.readUInt32LE(12);
        if (byteCount > this.maxPayloadBytes) {
          this.protocolError(`a frame announced ${byteCount} payload bytes, above the ${this.maxPayloadBytes} the protocol ever sends`);
          return;
        }
        const op = this.header.readUInt32LE(4);
        const seq = this.header.readUInt32LE(8);
        this.current = { op, seq, ...this.payloadFor(op, seq, byteCount), fill: 0, carryFill: 0 };
      }
      const current = this.current;
      const take = Math.min(current.payload.length - current.fill - current.carryFill, chunk.length - offset);
      if (current.accumulate !== undefined) this.accumulate(current, current.accumulate, chunk, offset, offset + take);
      else {
        chunk.copy(current.payload, current.fill, offset, offset + take);
        current.fill += take;
      }
      offset += take;
      if (current.fill === current.payload.length) {
        this.current = undefined;
        this.deliver({ op: current.op, seq: current.seq, payload: current.payload, direct: current.direct, accumulated: current.accumulate !== undefined });
      }
    }
  }
}
