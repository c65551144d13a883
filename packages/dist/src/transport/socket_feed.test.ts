import { createServer, type Server, type Socket } from 'node:net';
import { BufferPool } from './buffer_pool';
import { FRAME_HEADER_BYTES, FrameConnection } from './frame_connection';
import { SocketFeed } from './socket_feed';

const FRAME_MAGIC = 0x524a4446;

function frameHeader(op: number, seq: number, byteCount: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(FRAME_MAGIC, 0);
  header.writeUInt32LE(op, 4);
  header.writeUInt32LE(seq, 8);
  header.writeUInt32LE(byteCount, 12);
  return header;
}

/** A connected pair: the accepted side read through a SocketFeed (as the mesh does), the other a plain socket. */
async function feedPair(): Promise<{ feed: SocketFeed; sender: Socket; server: Server }> {
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const feedPromise = SocketFeed.connect('127.0.0.1', (server.address() as { port: number }).port);
  const feed = SocketFeed.adopt(await accepted);
  return { feed, sender: (await feedPromise).socket, server };
}

async function writeInPieces(socket: Socket, bytes: Buffer, cuts: readonly number[]): Promise<void> {
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    socket.write(bytes.subarray(from, to));
    from = to;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SocketFeed reads where the consumer says', () => {
  const open: Array<() => void> = [];
  afterEach(() => {
    for (const close of open.splice(0)) close();
  });

  it('lands bytes straight in the region readTarget names, and the rest in its own buffer', async () => {
    const { feed, sender, server } = await feedPair();
    open.push(() => server.close(), () => sender.destroy(), () => feed.socket.destroy());
    const destination = Buffer.alloc(100_000);
    let filled = 0;
    let inPlaceBytes = 0;
    const elsewhere: number[] = [];
    const done = new Promise<void>((resolve) => {
      feed.attach(
        (chunk) => {
          if (chunk.buffer === destination.buffer) {
            // a view of the region handed out: the bytes are already there
            expect(chunk.byteOffset).toBe(destination.byteOffset + filled);
            filled += chunk.length;
            inPlaceBytes += chunk.length;
          } else {
            // read before a region was named (the first read was set up before attach): copied like a consumer would
            const take = Math.min(chunk.length, destination.length - filled);
            chunk.copy(destination, filled, 0, take);
            filled += take;
            for (const byte of chunk.subarray(take)) elsewhere.push(byte);
          }
          if (filled === destination.length && elsewhere.length === 10) resolve();
        },
        () => (filled < destination.length ? destination.subarray(filled) : undefined),
      );
    });
    const payload = Buffer.from(Array.from({ length: destination.length + 10 }, (_, index) => (index * 7) % 251));
    // the first byte alone: read into the feed's own buffer (set up before attach); every later read is in place
    sender.write(payload.subarray(0, 1));
    while (filled === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await writeInPieces(sender, payload.subarray(1), [4096, 50_000]);
    await done;
    expect(destination.equals(payload.subarray(0, destination.length))).toBe(true);
    expect(elsewhere).toEqual([...payload.subarray(destination.length)]);
    expect(inPlaceBytes).toBe(destination.length - 1);
  });

  it('FrameConnection receives planned, accumulating and pooled frames in place across split headers and elements', async () => {
    const { feed, sender, server } = await feedPair();
    open.push(() => server.close(), () => sender.destroy(), () => feed.socket.destroy());
    const taken: number[] = [];
    class RecordingPool extends BufferPool {
      override take(byteCount: number): Buffer {
        taken.push(byteCount);
        return super.take(byteCount);
      }
    }
    const connection = new FrameConnection(feed.socket, new RecordingPool(), () => undefined, 1024 * 1024, feed);
    const count = 70_001; // float32 elements per frame: not a multiple of any read size
    const planned = new Float32Array(count);
    const summed = Float32Array.from({ length: count }, (_, index) => index * 0.25);
    const expectedSum = summed.map((value, index) => value + Math.fround(index * 0.5 - 3));
    const combinedOffsets: number[] = [];
    connection.planDirect(
      5,
      9,
      new Map([
        [0, { bytes: new Uint8Array(planned.buffer), ready: () => true }],
        [
          1,
          {
            bytes: new Uint8Array(summed.buffer),
            ready: () => true,
            accumulate: {
              elementBytes: 4,
              combine: (byteOffset: number, incoming: Uint8Array) => {
                // throws a RangeError if `incoming` is not 4-byte aligned
                const values = new Float32Array(incoming.buffer, incoming.byteOffset, incoming.byteLength / 4);
                for (let index = 0; index < values.length; index += 1) summed[byteOffset / 4 + index] = (summed[byteOffset / 4 + index] as number) + (values[index] as number);
                combinedOffsets.push(byteOffset);
              },
            },
          },
        ],
      ]),
    );
    const first = Float32Array.from({ length: count }, (_, index) => index - 1.5);
    const second = Float32Array.from({ length: count }, (_, index) => index * 0.5 - 3);
    const pooled = Buffer.from([1, 2, 3, 4, 5]);
    const stream = Buffer.concat([
      frameHeader(4, 1, 3), // another collective's small frame first: the planned payloads start unaligned
      Buffer.from([7, 8, 9]),
      frameHeader(5, 9, count * 4),
      Buffer.from(first.buffer),
      frameHeader(5, 9, count * 4),
      Buffer.from(second.buffer),
      frameHeader(5, 9, pooled.length), // third frame of the collective: not planned, through the pool
      pooled,
    ]);
    // cuts inside a header, inside elements, and at odd offsets of both payloads
    await writeInPieces(sender, stream, [10, 19, 4099, 131_075, 280_030, 280_043, 400_001, 560_041]);
    const other = await connection.next();
    expect([...other.payload]).toEqual([7, 8, 9]);
    connection.release(other);
    const direct = await connection.next();
    expect(direct.direct).toBe(true);
    expect([...planned]).toEqual([...first]);
    const accumulated = await connection.next();
    expect(accumulated.accumulated).toBe(true);
    expect([...summed]).toEqual([...expectedSum]);
    expect(combinedOffsets[0]).toBe(0);
    expect(combinedOffsets.every((offset) => offset % 4 === 0)).toBe(true);
    const last = await connection.next();
    expect(last.direct).toBe(false);
    expect([...last.payload]).toEqual([...pooled]);
    // only the unplanned frames went through the pool
    expect(taken).toEqual([3, pooled.length]);
  });
});
