import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';

export const WORKER = path.join(__dirname, 'workers', 'collective_worker.ts');
export const REPO_ROOT = path.join(__dirname, '..', '..', '..');

/** A free TCP port on 127.0.0.1 (bind a probe to port 0, read it, close it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A spawned worker whose `RESULT <json>` lines are collected as they arrive. */
export class Worker {
  readonly results: Array<Record<string, unknown>> = [];
  readonly child: ChildProcess;
  stderr = '';
  private readonly listeners: Array<() => void> = [];

  constructor(env: Record<string, string>, script = WORKER) {
    this.child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('RESULT ')) this.results.push(JSON.parse(line.slice(7)) as Record<string, unknown>);
      for (const listener of this.listeners.splice(0)) listener();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  /** Wait until a result matches `predicate`; fail after `timeoutMs`. */
  waitFor(predicate: (result: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching result within ${timeoutMs} ms; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      const check = (): void => {
        const found = this.results.find(predicate);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`worker exited (${this.child.exitCode ?? this.child.signalCode}) without a matching result; stderr:\n${this.stderr.slice(-2000)}`));
        } else this.listeners.push(check);
      };
      this.child.once('exit', () => setTimeout(check, 50));
      check();
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export function rankEnv(rank: number, worldSize: number, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    RANK: String(rank),
    WORLD_SIZE: String(worldSize),
    LOCAL_RANK: String(rank),
    LOCAL_WORLD_SIZE: String(worldSize),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    RLHFJS_RUN_ID: `test-${port}`,
    ...extra,
  };
}
