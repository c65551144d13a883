import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseLauncherArguments } from '@rlhfjs/dist';
import { REPO_ROOT } from '../helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'rlhfjs-run.js');
const EXIT_WORKER = path.join(__dirname, '..', 'workers', 'exit_worker.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('rlhfjs-run', () => {
  it('parses torchrun-style flags and rejects bad ones all at once', () => {
    expect(parseLauncherArguments(['--nproc_per_node=2', '--master-port', '1234', '--', 'node', 'a.js', '--x'])).toMatchObject({
      nprocPerNode: 2,
      masterPort: 1234,
      command: ['node', 'a.js', '--x'],
    });
    const bad = (): unknown => parseLauncherArguments(['--nproc-per-node', 'two', '--bogus', '1']);
    expect(bad).toThrow(/got "two"/);
    expect(bad).toThrow(/unknown flag --bogus/);
    expect(bad).toThrow(/no program given/);
  });

  it('a child exiting with 3: the launcher exits 3 and no child is left', async () => {
    const launcher = spawn(process.execPath, [BIN, '--nproc-per-node', '3', '--grace-period-ms', '500', '--', process.execPath, EXIT_WORKER], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    launcher.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    launcher.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const pids = (): number[] => [...output.matchAll(/PID (\d+)/g)].map((match) => Number(match[1]));
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`launcher did not exit; output:\n${output}`)), 30_000);
        launcher.once('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      expect(code).toBe(3);
      expect(pids()).toHaveLength(3);
      expect(output).toMatch(/rank 1 failed with exit code 3/);
      for (const pid of pids()) expect(alive(pid)).toBe(false);
    } finally {
      launcher.kill('SIGKILL');
      for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 45_000);
});
