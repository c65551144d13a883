import { DistError } from '@rlhfjs/core';
import { TorchStoreClient } from '@rlhfjs/dist';
import { freePort } from '../helpers';
import { TorchStoreHost } from '../torch/torch_store_host';

describe('TorchStoreClient against a real PyTorch TCPStore', () => {
  let host: TorchStoreHost | undefined;
  const clients: TorchStoreClient[] = [];
  afterEach(() => {
    clients.splice(0).forEach((client) => client.close());
    host?.stop();
  });

  it('auto-detects the 1.13 protocol, counts in at init/, and shares keys with a Python client', async () => {
    const port = await freePort();
    host = new TorchStoreHost(port, 2); // the host + this client
    const version = await host.waitForLine('TORCH ', 30_000);
    const client = await TorchStoreClient.connect('127.0.0.1', port, { deadline: Date.now() + 30_000 });
    clients.push(client);
    // the Python constructor returns only once this client counted itself in at "init/"
    await host.waitForLine('JOINED', 20_000);
    expect(client.protocol).toBe(version.startsWith('TORCH 1.') ? 'v1' : 'v2');

    await client.set('run/addr/0', '127.0.0.1:1234');
    expect(await host.pythonGet('run/addr/0')).toBe('127.0.0.1:1234');
    host.child.stdin?.write('set from/python hello there\n');
    await host.waitForLine('OK', 10_000);
    expect(await client.get('from/python', 5_000)).toBe('hello there');
    expect(await client.add('counter', 5)).toBe(5);
    expect(await client.add('counter', -2)).toBe(3);
    expect(await host.pythonGet('counter')).toBe('3');

    // wait: set keys return at once; a missing one times out naming only it, and the connection still works
    await client.wait(['run/addr/0', 'from/python'], 1_000);
    const error = await client.wait(['run/addr/0', 'never/set'], 300).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DistError);
    expect((error as DistError).code).toBe('RENDEZVOUS');
    expect((error as DistError & { missing: string[] }).missing).toEqual(['never/set']);
    expect(await client.get('run/addr/0', 1_000)).toBe('127.0.0.1:1234');
  }, 60_000);

  it('forcing the 2.x handshake on a 1.13 store fails as RENDEZVOUS without harming the store', async () => {
    const port = await freePort();
    host = new TorchStoreHost(port, 1);
    const version = await host.waitForLine('TORCH ', 30_000);
    await host.waitForLine('JOINED', 20_000);
    const forced = version.startsWith('TORCH 1.') ? 'v2' : 'v1';
    const error = await TorchStoreClient.connect('127.0.0.1', port, { deadline: Date.now() + 3_000, protocol: forced }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DistError);
    expect((error as DistError).code).toBe('RENDEZVOUS');
    const client = await TorchStoreClient.connect('127.0.0.1', port, { deadline: Date.now() + 10_000 });
    clients.push(client);
    await client.set('still/works', 'yes');
    expect(await host.pythonGet('still/works')).toBe('yes');
  }, 60_000);

  it('refuses a key longer than a TCPStore accepts before sending it', async () => {
    const port = await freePort();
    host = new TorchStoreHost(port, 1);
    await host.waitForLine('JOINED', 30_000);
    const client = await TorchStoreClient.connect('127.0.0.1', port, { deadline: Date.now() + 10_000 });
    clients.push(client);
    await expect(client.set('k'.repeat(9000), 'v')).rejects.toThrow(/above the 8192/);
    await client.set('short', 'ok');
    expect(await client.get('short', 1_000)).toBe('ok');
  }, 60_000);
});
