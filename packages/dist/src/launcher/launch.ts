import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { ConfigError } from '@rlhfjs/core';
import { DEFAULT_MASTER_PORT } from '../env/detect_dist_env';

export interface LaunchOptions {
  /** The command to start on every rank, e.g. `['node', 'train.js', '--lr', '1e-4']`. */
  readonly command: readonly string[];
  readonly nprocPerNode?: number;
  readonly nnodes?: number;
  readonly nodeRank?: number;
  readonly masterAddr?: string;
  /** Default: a free port on a single node, 29500 on several. */
  readonly masterPort?: number;
  readonly runId?: string;
  /** Milliseconds between SIGTERM and SIGKILL when the others are stopped (default 5000). */
  readonly gracePeriodMs?: number;
  /** Base environment of the children (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Forward SIGINT/SIGTERM received by this process to the children (default true). */
  readonly forwardSignals?: boolean;
  /** Where children's stdio goes (default 'inherit'). */
  readonly stdio?: 'inherit' | 'pipe' | 'ignore';
  /** Called once with the children, e.g. to read their output or pids. */
  readonly onSpawn?: (children: readonly ChildProcess[]) => void;
}

export interface LaunchConfig {
  readonly command: readonly string[];
  readonly nprocPerNode: number;
  readonly nnodes: number;
  readonly nodeRank: number;
  readonly masterAddr: string;
  readonly masterPort: number | undefined;
  readonly runId: string;
  readonly gracePeriodMs: number;
  readonly forwardSignals: boolean;
  readonly stdio: 'inherit' | 'pipe' | 'ignore';
}

export interface LaunchResult {
  /** 0 when every rank succeeded, else the exit code of the first rank that failed (128 + signal if killed). */
  readonly exitCode: number;
  /** The global rank that failed first, if any. */
  readonly failedRank: number | undefined;
  readonly pids: readonly number[];
}

export function resolveLaunchConfig(options: LaunchOptions): LaunchConfig {
  const problems: string[] = [];
  const nprocPerNode = options.nprocPerNode ?? 1;
  const nnodes = options.nnodes ?? 1;
  const nodeRank = options.nodeRank ?? 0;
  const gracePeriodMs = options.gracePeriodMs ?? 5000;
  const positive = (name: string, value: number, minimum: number): void => {
    if (!Number.isSafeInteger(value) || value < minimum) problems.push(`${name} must be an integer >= ${minimum}, got ${value}`);
  };
  positive('nprocPerNode', nprocPerNode, 1);
  positive('nnodes', nnodes, 1);
  positive('nodeRank', nodeRank, 0);
  positive('gracePeriodMs', gracePeriodMs, 0);
  if (nodeRank >= nnodes) problems.push(`nodeRank ${nodeRank} must be < nnodes ${nnodes}`);
  if (options.command.length === 0) problems.push('command is empty: give the program to run after "--"');
  if (nnodes > 1 && options.masterAddr === undefined) problems.push('masterAddr is required when nnodes > 1');
  if (options.masterPort !== undefined) positive('masterPort', options.masterPort, 1);
  if (problems.length > 0) throw new ConfigError('launch', problems);
  const masterAddr = options.masterAddr ?? '127.0.0.1';
  const masterPort = options.masterPort ?? (nnodes > 1 ? DEFAULT_MASTER_PORT : undefined);
  return Object.freeze({
    command: Object.freeze([...options.command]),
    nprocPerNode,
    nnodes,
    nodeRank,
    masterAddr,
    masterPort,
    runId: options.runId ?? options.env?.RLHFJS_RUN_ID ?? (nnodes > 1 ? `rlhfjs-${masterAddr}-${masterPort}` : randomUUID()),
    gracePeriodMs,
    forwardSignals: options.forwardSignals ?? true,
    stdio: options.stdio ?? 'inherit',
  });
}

function freePort(): Promise<number> {
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

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/** Signal every process of a child's process group (children run detached, each leading its own group). */
function signalTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Start `nprocPerNode` copies of `command` on this node with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT, RLHFJS_RUN_ID and RLHFJS_DIST_SECRET set. When one fails, the others get SIGTERM,
 * then SIGKILL after the grace period, and the result carries the failed child's exit code.
 */
export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const config = resolveLaunchConfig(options);
  const baseEnv = options.env ?? process.env;
  const masterPort = config.masterPort ?? (await freePort());
  const worldSize = config.nprocPerNode * config.nnodes;
  // One node: a fresh random secret. Several nodes must agree without talking: the children derive it from the run id.
  const secret = baseEnv.RLHFJS_DIST_SECRET ?? (config.nnodes === 1 ? randomBytes(32).toString('hex') : undefined);
  const [program, ...args] = config.command as [string, ...string[]];
  const children: ChildProcess[] = [];
  const exits: Array<Promise<{ rank: number; code: number }>> = [];
  for (let localRank = 0; localRank < config.nprocPerNode; localRank += 1) {
    const rank = config.nodeRank * config.nprocPerNode + localRank;
    const env: Record<string, string | undefined> = {
      ...baseEnv,
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(localRank),
      LOCAL_WORLD_SIZE: String(config.nprocPerNode),
      GROUP_RANK: String(config.nodeRank),
      MASTER_ADDR: config.masterAddr,
      MASTER_PORT: String(masterPort),
      RLHFJS_RUN_ID: config.runId,
      RLHFJS_LAUNCHER: 'rlhfjs-run',
    };
    if (secret !== undefined) env.RLHFJS_DIST_SECRET = secret;
    const child = spawn(program, args, { env, stdio: config.stdio, detached: true });
    children.push(child);
    exits.push(
      new Promise((resolve) => {
        child.once('error', () => resolve({ rank, code: 127 }));
        child.once('exit', (code, signal) => resolve({ rank, code: code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 1) }));
      }),
    );
  }
  options.onSpawn?.(children);
  const running = new Set(children);
  children.forEach((child) => child.once('exit', () => running.delete(child)));
  let killTimer: NodeJS.Timeout | undefined;
  const stopAll = (signal: NodeJS.Signals): void => {
    for (const child of running) signalTree(child, signal);
    if (killTimer === undefined) {
      killTimer = setTimeout(() => {
        for (const child of running) signalTree(child, 'SIGKILL');
      }, config.gracePeriodMs);
    }
  };
  const forward = (signal: NodeJS.Signals): void => stopAll(signal);
  if (config.forwardSignals) {
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
  }
  let failure: { rank: number; code: number } | undefined;
  try {
    await Promise.all(
      exits.map(async (exit) => {
        const result = await exit;
        if (result.code !== 0 && failure === undefined) {
          failure = result;
          stopAll('SIGTERM');
        }
      }),
    );
    // Grandchildren that outlived their rank: the process groups are ours to clean.
    for (const child of children) signalTree(child, 'SIGKILL');
  } finally {
    clearTimeout(killTimer);
    if (config.forwardSignals) {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
  }
  return { exitCode: failure?.code ?? 0, failedRank: failure?.rank, pids: children.map((child) => child.pid ?? -1) };
}
