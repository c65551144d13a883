import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
const { torchPython } = require('../ensure_torch.js') as { torchPython: () => string };

/** A real PyTorch TCPStore hosted by `tcp_store_host.py` in a Python child process. */
export class TorchStoreHost {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  private readonly listeners: Array<() => void> = [];

  constructor(port: number, worldSize: number) {
    this.child = spawn(torchPython(), [path.join(__dirname, 'tcp_store_host.py'), String(port), String(worldSize)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      this.lines.push(...lines);
      for (const listener of this.listeners.splice(0)) listener();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  /** The first output line starting with `prefix` (waiting up to `timeoutMs`). */
  waitForLine(prefix: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`TorchStoreHost: no "${prefix}" line within ${timeoutMs} ms; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      const check = (): void => {
        const found = this.lines.find((line) => line.startsWith(prefix));
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else if (this.child.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`TorchStoreHost exited (${this.child.exitCode}); stderr:\n${this.stderr.slice(-2000)}`));
        } else this.listeners.push(check);
      };
      this.child.once('exit', () => setTimeout(check, 20));
      check();
    });
  }

  /** Ask the Python side for `key` (it reads it through its own TCPStore client). */
  async pythonGet(key: string, timeoutMs = 10_000): Promise<string> {
    this.child.stdin?.write(`get ${key}\n`);
    const line = await this.waitForLine(`VALUE ${key} `, timeoutMs);
    return line.slice(`VALUE ${key} `.length);
  }

  stop(): void {
    this.child.stdin?.end();
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
  }
}
