import type { Socket } from 'node:net';

/** One request to the rendezvous store, newline-delimited JSON after the handshake. */
export type StoreRequest =
  | { readonly id: number; readonly command: 'set'; readonly key: string; readonly value: string }
  | { readonly id: number; readonly command: 'get'; readonly key: string; readonly timeoutMs: number }
  | { readonly id: number; readonly command: 'add'; readonly key: string; readonly delta: number }
  | { readonly id: number; readonly command: 'wait'; readonly keys: readonly string[]; readonly timeoutMs: number };

export type StoreResponse =
  | { readonly id: number; readonly ok: true; readonly value?: string | number }
  | { readonly id: number; readonly ok: false; readonly error: string; readonly missing?: readonly string[] };

/** Call `onLine` for each newline-terminated line arriving on the socket. */
export function readLines(socket: Socket, onLine: (line: string) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.length > 0) onLine(line);
      newline = pending.indexOf('\n');
    }
  });
  socket.resume();
}
