// All-reduce bus bandwidth on 127.0.0.1 for 1, 16 and 100 MB with 2 and 4 ranks: our TCP ring against PyTorch's
// Gloo (torch.distributed 'gloo' in Python processes, Debian's python3-torch), measured alternately in one run.
// Run: npx tsx packages/dist/bench/allreduce_bench.ts   (spawns its own ranks; stops by itself)
// Env: BENCH_ROUNDS (default 2), BENCH_SIZES_MB (default 1,16,100), BENCH_WORLD_SIZES (default 2,4).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { initProcessGroup } from '../src/index';

const SIZES_MB = (process.env.BENCH_SIZES_MB ?? '1,16,100').split(',').map(Number);
const WORLD_SIZES = (process.env.BENCH_WORLD_SIZES ?? '2,4').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '2');
const PYTHON = process.env.RLHFJS_TORCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

function repeatsFor(megabytes: number): number {
  if (process.env.BENCH_REPEATS !== undefined) return Number(process.env.BENCH_REPEATS);
  return megabytes >= 100 ? 2 : megabytes >= 16 ? 3 : 10;
}

async function rankMain(): Promise<void> {
  const chunkBytes = process.env.BENCH_CHUNK_BYTES === undefined ? undefined : Number(process.env.BENCH_CHUNK_BYTES);
  const group = await initProcessGroup({ timeoutMs: 60_000, collectiveTimeoutMs: 120_000, secret: 'bench', chunkBytes });
  for (const megabytes of SIZES_MB) {
    const buffer = new Float32Array((megabytes * 1024 * 1024) / 4).fill(1);
    await group.allReduce(buffer); // warm-up (page faults, pools)
    const repeats = repeatsFor(megabytes);
    await group.barrier();
    const start = process.hrtime.bigint();
    for (let repeat = 0; repeat < repeats; repeat += 1) await group.allReduce(buffer);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9 / repeats;
    if (group.rank === 0) process.stdout.write(`RLHFJS ${megabytes} ${seconds}\n`);
  }
  await group.destroy();
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

/** Run one engine with `worldSize` ranks; returns seconds per all-reduce by size (from rank 0's output). */
async function runEngine(engine: 'rlhfjs' | 'gloo', worldSize: number): Promise<Map<number, number>> {
  const port = await freePort();
  const times = new Map<number, number>();
  const children = Array.from({ length: worldSize }, (_, rank) => {
    const env = { ...process.env, RANK: String(rank), WORLD_SIZE: String(worldSize), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
    return engine === 'rlhfjs'
      ? spawn(process.execPath, ['--import', 'tsx', __filename], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...env, BENCH_RANK: '1', RLHFJS_RUN_ID: `bench-${port}` },
        })
      : spawn(PYTHON, [path.join(__dirname, 'gloo_allreduce.py')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, SIZES_MB: SIZES_MB.join(',') } });
  });
  children.forEach((child) =>
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        const [tag, megabytes, seconds] = line.trim().split(' ');
        if ((tag === 'RLHFJS' || tag === 'GLOO') && megabytes !== undefined && seconds !== undefined) times.set(Number(megabytes), Number(seconds));
      }
    }),
  );
  const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 300_000);
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  clearTimeout(timer);
  return times;
}

function busGigabytesPerSecond(megabytes: number, worldSize: number, seconds: number): number {
  return (megabytes * 1024 * 1024 * 2 * (worldSize - 1)) / worldSize / seconds / 1e9;
}

async function driver(): Promise<void> {
  process.stdout.write(`bus bandwidth = bytes × 2(n−1)/n / time; best of ${ROUNDS} alternating rounds per engine\n`);
  for (const worldSize of WORLD_SIZES) {
    const best = { rlhfjs: new Map<number, number>(), gloo: new Map<number, number>() };
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const engine of ['rlhfjs', 'gloo'] as const) {
        const times = await runEngine(engine, worldSize);
        for (const [megabytes, seconds] of times) best[engine].set(megabytes, Math.min(seconds, best[engine].get(megabytes) ?? Infinity));
        process.stdout.write(`  round ${round + 1} ${engine.padEnd(6)} ranks ${worldSize}: ${[...times].map(([mb, s]) => `${mb} MB ${(s * 1000).toFixed(1)} ms`).join(', ')}\n`);
      }
    }
    for (const megabytes of SIZES_MB) {
      const ours = best.rlhfjs.get(megabytes);
      const gloo = best.gloo.get(megabytes);
      const oursBus = ours === undefined ? Number.NaN : busGigabytesPerSecond(megabytes, worldSize, ours);
      const glooBus = gloo === undefined ? Number.NaN : busGigabytesPerSecond(megabytes, worldSize, gloo);
      process.stdout.write(
        `ranks ${worldSize}  ${String(megabytes).padStart(3)} MB  rlhfjs ${oursBus.toFixed(3)} GB/s  gloo ${glooBus.toFixed(3)} GB/s  ratio ${(oursBus / glooBus).toFixed(2)}×\n`,
      );
    }
  }
}

(process.env.BENCH_RANK === '1' ? rankMain() : driver()).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
