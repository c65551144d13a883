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

});
