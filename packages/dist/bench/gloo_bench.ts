// All-reduce bus bandwidth of the two engines, the pure-JS TCP ring (`initProcessGroup`) and Gloo through N-API
// (`initGlooEngine`), and PyTorch's Gloo when python3 has torch, alternating engine by engine in one run, on
// 127.0.0.1 for 2 and 4 ranks. Run: npx tsx packages/dist/bench/gloo_bench.ts   (spawns its own ranks)
// Environment: BENCH_SIZES_MB (default 16,100), BENCH_WORLD_SIZES (default 2,4), BENCH_ROUNDS (default 1),
// BENCH_PYTHON (default: the first of python3, /usr/bin/python3 that imports torch; '' skips PyTorch).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { initGlooEngine, initProcessGroup, isGlooAvailable, glooUnavailableReason, type CollectiveEngine, type ProcessGroup } from '../src/index';

const SIZES_MB = (process.env.BENCH_SIZES_MB ?? '16,100').split(',').map(Number);
const WORLD_SIZES = (process.env.BENCH_WORLD_SIZES ?? '2,4').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);

type Engine = Pick<CollectiveEngine, 'rank' | 'worldSize' | 'allReduce' | 'barrier' | 'destroy'>;

async function join(name: string): Promise<Engine> {
  const options = { timeoutMs: 60_000, collectiveTimeoutMs: 120_000 };
  if (name === 'gloo') return initGlooEngine(options);
  const group: ProcessGroup = await initProcessGroup(options);
  return group;
}

async function rankMain(name: string): Promise<void> {
  const engine = await join(name);
  for (const megabytes of SIZES_MB) {
    const buffer = new Float32Array((megabytes * 1024 * 1024) / 4).fill(1);
    await engine.allReduce(buffer); // warm-up (page faults, pools)
    const repeats = megabytes >= 100 ? 2 : megabytes >= 16 ? 3 : 10;
    await engine.barrier();
    const start = process.hrtime.bigint();
    for (let repeat = 0; repeat < repeats; repeat += 1) await engine.allReduce(buffer);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9 / repeats;
    if (engine.rank === 0) {
      const n = engine.worldSize;
      const busBytes = (buffer.byteLength * 2 * (n - 1)) / n;
      process.stdout.write(
        `${name.padEnd(19)} ranks ${n}  ${String(megabytes).padStart(3)} MB  ${(seconds * 1000).toFixed(1).padStart(8)} ms  bus ${(busBytes / seconds / 1e9).toFixed(3)} GB/s\n`,
      );
    }
  }
  await engine.destroy();
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

/** A python that imports torch with Gloo, or undefined. */
function torchPython(): string | undefined {
  const candidates = process.env.BENCH_PYTHON === undefined ? ['python3', '/usr/bin/python3'] : [process.env.BENCH_PYTHON].filter((entry) => entry !== '');
  return candidates.find(
    (python) => spawnSync(python, ['-c', 'import torch.distributed as d; assert d.is_gloo_available()'], { stdio: 'ignore' }).status === 0,
  );
}

const PYTHON = process.env.BENCH_RANK === undefined ? torchPython() : undefined;

async function runRanks(engine: string, worldSize: number): Promise<void> {
  const port = await freePort();
  const children = Array.from({ length: worldSize }, (_, rank) => {
    const env = {
      ...process.env, BENCH_RANK: engine, BENCH_SIZES_MB: SIZES_MB.join(','), RANK: String(rank), WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(worldSize), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RLHFJS_RUN_ID: `bench-${port}`,
    };
    const command = engine === 'torch' ? [PYTHON ?? 'python3', path.join(__dirname, 'torch_gloo_allreduce.py')] : [process.execPath, '--import', 'tsx', __filename];
    return spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env });
  });
  const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 300_000);
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  clearTimeout(timer);
}

async function driver(): Promise<void> {
  const engines = ['ring'];
  if (isGlooAvailable()) engines.push('gloo');
  else process.stdout.write(`gloo engine unavailable: ${glooUnavailableReason()}\n`);
  if (PYTHON !== undefined) engines.push('torch');
  else process.stdout.write('PyTorch with Gloo not found; measuring our engines only\n');
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const worldSize of WORLD_SIZES) for (const engine of engines) await runRanks(engine, worldSize);
  }
}

const role = process.env.BENCH_RANK;
(role === 'ring' || role === 'gloo' ? rankMain(role) : driver()).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
