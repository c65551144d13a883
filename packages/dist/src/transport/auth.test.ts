import { connect, createServer, type Server, type Socket } from 'node:net';
import { acceptHandshake, connectHandshake } from './auth';

describe('HMAC handshake', () => {
  let server: Server;
  const sockets: Socket[] = [];
  afterEach(() => {
    sockets.forEach((socket) => socket.destroy());
    server?.close();
  });

  async function attempt(serverSecret: string, clientSecret: string): Promise<[PromiseSettledResult<void>, PromiseSettledResult<void>, string]> {
    let seen = '';
    let accepted: Promise<void> = Promise.resolve();
    server = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', () => undefined);
      accepted = acceptHandshake(socket, serverSecret, 2000);
      accepted.catch(() => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const client = connect({ host: '127.0.0.1', port });
    sockets.push(client);
    await new Promise((resolve) => client.once('connect', resolve));
    const originalWrite = client.write.bind(client);
    client.write = ((data: Buffer, ...rest: never[]) => {
      seen += Buffer.from(data).toString('latin1');
      return originalWrite(data, ...rest);
    }) as typeof client.write;
    const connected = connectHandshake(client, clientSecret, 2000, 'test');
    const [clientResult] = await Promise.allSettled([connected]);
    const [serverResult] = await Promise.allSettled([accepted]);
    return [clientResult as PromiseSettledResult<void>, serverResult as PromiseSettledResult<void>, seen];
  }

  it('accepts the same secret and never sends it', async () => {
    const [client, accepted, seen] = await attempt('s3cret-value', 's3cret-value');
    expect(client.status).toBe('fulfilled');
    expect(accepted.status).toBe('fulfilled');
    expect(seen).not.toContain('s3cret-value');
  });

  it('refuses a wrong secret with AUTH on both sides', async () => {
    const [client, accepted] = await attempt('right', 'wrong');
    expect(client.status === 'rejected' && (client.reason as { code: string }).code).toBe('AUTH');
    expect(accepted.status === 'rejected' && (accepted.reason as { code: string }).code).toBe('AUTH');
  });
});
