// All-reduce bus bandwidth over TCP on 127.0.0.1 for 1, 16 and 100 MB with 2 and 4 ranks, next to memcpy.
// Run: npx tsx packages/dist/bench/allreduce_bench.ts   (spawns its own ranks; stops by itself)
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { initProcessGroup } from '../src/index';

const SIZES_MB = [1, 16, 100];
const WORLD_SIZES = [2, 4];

async function rankMain(): Promise<void> {
  const group = await initProcessGroup({ timeoutMs: 60_000, collectiveTimeoutMs: 120_000 });
  for (const megabytes of SIZES_MB) {
    const buffer = new Float32Array((megabytes * 1024 * 1024) / 4).fill(1);
    await group.allReduce(buffer); // warm-up (page faults, pools)
    const repeats = megabytes >= 100 ? 2 : megabytes >= 16 ? 3 : 10;
    await group.barrier();
    const start = process.hrtime.bigint();
    for (let repeat = 0; repeat < repeats; repeat += 1) await group.allReduce(buffer);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9 / repeats;
    if (group.rank === 0) {
      const n = group.worldSize;
      const busBytes = (buffer.byteLength * 2 * (n - 1)) / n;
      process.stdout.write(`ranks ${n}  ${String(megabytes).padStart(3)} MB  ${(seconds * 1000).toFixed(1).padStart(8)} ms  bus ${(busBytes / seconds / 1e9).toFixed(3)} GB/s\n`);
    }
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

function memcpyBandwidth(): number {
  const source = Buffer.alloc(256 * 1024 * 1024, 1);
  const target = Buffer.alloc(source.length);
  source.copy(target);
  const start = process.hrtime.bigint();
  for (let repeat = 0; repeat < 4; repeat += 1) source.copy(target);
  return (source.length * 4) / (Number(process.hrtime.bigint() - start) / 1e9) / 1e9;
}

async function driver(): Promise<void> {
  process.stdout.write(`memcpy (Buffer.copy, 256 MB): ${memcpyBandwidth().toFixed(2)} GB/s\n`);
  for (const worldSize of WORLD_SIZES) {
    const port = await freePort();
    const children = Array.from({ length: worldSize }, (_, rank) =>
      spawn(process.execPath, ['--import', 'tsx', __filename], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, BENCH_RANK: '1', RANK: String(rank), WORLD_SIZE: String(worldSize), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RLHFJS_RUN_ID: `bench-${port}` },
      }),
    );
    const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 300_000);
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
    clearTimeout(timer);
  }
}

(process.env.BENCH_RANK === '1' ? rankMain() : driver()).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
