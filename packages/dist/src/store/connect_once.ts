import { connect, type Socket } from 'node:net';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One TCP connect attempt: resolves with the socket once connected, rejects with the socket's first error. */
export function connectOnce(host: string, port: number, options: { readonly noDelay?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.off('error', reject);
      if (options.noDelay === true) socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
