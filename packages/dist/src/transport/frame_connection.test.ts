import { connect, createServer, type Socket } from 'node:net';
import { DistError } from '@rlhfjs/core';
import { BufferPool } from './buffer_pool';
import { FRAME_HEADER_BYTES, FrameConnection } from './frame_connection';

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('FrameConnection caps frame sizes (issue 18 item 7)', () => {
  const open: Array<{ destroy: () => Promise<void> | void }> = [];
  afterEach(async () => {
    for (const entry of open.splice(0)) await entry.destroy();
  });

  it('a frame header announcing 4 GB is refused before any allocation', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ destroy: () => void server.close() });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const sender = await connected((server.address() as { port: number }).port);
    const receiver = await accepted;
    open.push({ destroy: () => void sender.destroy() });
    const taken: number[] = [];
    class RecordingPool extends BufferPool {
      override take(byteCount: number): Buffer {
        taken.push(byteCount);
        return super.take(byteCount);
      }
    }
    const errors: string[] = [];
    const connection = new FrameConnection(receiver, new RecordingPool(), (message) => errors.push(message), 1024 * 1024);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(0x524a4446, 0); // magic
    header.writeUInt32LE(2, 4);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(0xfffffff0, 12); // ~4 GB
    sender.write(header);
    const failure = await connection.next().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DistError);
    expect((failure as DistError).code).toBe('PROTOCOL');
    expect((failure as Error).message).toMatch(/4294967280 payload bytes, above the 1048576/);
    expect(errors).toHaveLength(1);
    expect(taken).toEqual([]);
    // sending above the cap is refused on this side too
    await expect(new FrameConnection(sender, new BufferPool(), () => undefined, 16).send(2, 1, new Uint8Array(17))).rejects.toThrow(/above the 16-byte frame limit/);
  });

  it('an accumulating target sums a payload straight from the read buffer, across split elements and unaligned offsets', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ destroy: () => void server.close() });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const sender = await connected((server.address() as { port: number }).port);
    const receiver = await accepted;
    open.push({ destroy: () => void sender.destroy() });
    const connection = new FrameConnection(receiver, new BufferPool(), () => undefined);
    const target = Float32Array.from({ length: 9 }, (_, index) => index + 0.5);
    const expected = target.map((value, index) => value + (index + 1) * 100);
    const combined: number[] = [];
    const bytes = new Uint8Array(target.buffer);
    connection.planDirect(2, 1, new Map([[0, {
      bytes,
      ready: () => true,
      accumulate: {
        elementBytes: 4,
        combine: (byteOffset: number, incoming: Uint8Array) => {
          // throws a RangeError if `incoming` is not 4-byte aligned
          const values = new Float32Array(incoming.buffer, incoming.byteOffset, incoming.byteLength / 4);
          for (let index = 0; index < values.length; index += 1) target[byteOffset / 4 + index] = (target[byteOffset / 4 + index] as number) + (values[index] as number);
          combined.push(byteOffset);
        },
      },
    }]]));
    const header = (op: number, seq: number, byteCount: number): Buffer => {
      const head = Buffer.alloc(FRAME_HEADER_BYTES);
      head.writeUInt32LE(0x524a4446, 0);
      head.writeUInt32LE(op, 4);
      head.writeUInt32LE(seq, 8);
      head.writeUInt32LE(byteCount, 12);
      return head;
    };
    const payload = Buffer.from(Float32Array.from({ length: 9 }, (_, index) => (index + 1) * 100).buffer);
    // a 3-byte frame of another collective first, so the accumulated payload starts 3 bytes off alignment
    const stream = Buffer.concat([header(3, 1, 3), Buffer.from([7, 8, 9]), header(2, 1, payload.length), payload]);
    // written in pieces that split elements (reads may still merge them; the sum must be right either way)
    for (const [from, to] of [[0, 40], [40, 46], [46, 53], [53, stream.length]] as const) {
      sender.write(stream.subarray(from, to));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const other = await connection.next();
    expect([...other.payload]).toEqual([7, 8, 9]);
    connection.release(other);
    const frame = await connection.next();
    expect(frame.accumulated).toBe(true);
    expect(frame.direct).toBe(true);
    expect([...target]).toEqual([...expected]);
    expect(combined.length).toBeGreaterThan(0);
  });
});
