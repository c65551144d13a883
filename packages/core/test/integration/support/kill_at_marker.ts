import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as path from 'path';

const repoRoot = path.join(__dirname, '..', '..', '..', '..', '..');

/**
 * Runs a TypeScript script in a child node process with `env` added, waits until it creates `marker` (a crash
 * point or a test hook writes it, then waits), kills it with SIGKILL and resolves with its pid once it is gone.
 * Rejects if the child exits on its own first.
 */
export async function killAtMarker(script: string, args: readonly string[], env: Readonly<Record<string, string>>, marker: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await fs.stat(marker).then(() => true, () => false)) break;
    if (!running) throw new Error(`the child exited before reaching ${path.basename(marker)}; output:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the child did not reach ${path.basename(marker)} in 60 s; output:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  await exited;
  return child.pid as number;
}
