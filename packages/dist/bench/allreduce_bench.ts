// All-reduce bus bandwidth on 127.0.0.1, 2 and 4 ranks, 16 and 100 MB, of both our engines — the pure-JS TCP ring
// and Gloo through N-API (both through `initProcessGroup`, `engine: 'ring' | 'gloo'`) — and of PyTorch's Gloo
// (torch.distributed 'gloo' in Python processes, Debian's python3-torch), alternating engine by engine in one run.
// Ratios are against PyTorch's Gloo measured in the same run. Our buffers come from `group.allocate` (as DDP's
// gradient buckets do: on the ring they are summed in place); `ring-plain` is the ring on a plain Float32Array.
// Run: npx tsx packages/dist/bench/allreduce_bench.ts   (spawns its own ranks; stops by itself)
// Env: BENCH_ROUNDS (default 2), BENCH_SIZES_MB (default 16,100), BENCH_WORLD_SIZES (default 2,4),
// BENCH_PYTHON (default: the first of python3, /usr/bin/python3 that imports torch with Gloo; '' skips PyTorch),
// BENCH_ENGINES (default ring,ring-plain,gloo,torch: those available), BENCH_NODE_ARGS (extra node flags for our ranks).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { glooUnavailableReason, initProcessGroup, isGlooAvailable } from '../src/index';

const SIZES_MB = (process.env.BENCH_SIZES_MB ?? '16,100').split(',').map(Number);
const WORLD_SIZES = (process.env.BENCH_WORLD_SIZES ?? '2,4').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '2');
const WANTED = (process.env.BENCH_ENGINES ?? 'ring,ring-plain,gloo,torch').split(',');
/** Extra node flags for our ranks, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (not allowed in NODE_OPTIONS). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((entry) => entry !== '');

/** ring-plain: the ring on a plain `new Float32Array` instead of a `group.allocate` buffer (which DDP's buckets are). */
type EngineName = 'ring' | 'ring-plain' | 'gloo' | 'torch';

/** Untimed all-reduces before the timed ones, for every engine (PyTorch's too). */
const WARM_UPS = 2;

function repeatsFor(megabytes: number): number {
  if (process.env.BENCH_REPEATS !== undefined) return Number(process.env.BENCH_REPEATS);
  return megabytes >= 100 ? 2 : megabytes >= 16 ? 3 : 10;
}

async function rankMain(role: 'ring' | 'ring-plain' | 'gloo'): Promise<void> {
  const engine = role === 'gloo' ? 'gloo' : 'ring';
  const chunkBytes = process.env.BENCH_CHUNK_BYTES === undefined ? undefined : Number(process.env.BENCH_CHUNK_BYTES);
  const group = await initProcessGroup({ timeoutMs: 60_000, collectiveTimeoutMs: 120_000, secret: 'bench', chunkBytes, engine });
  if (group.engineName !== engine) throw new Error(`asked for engine ${engine}, got ${group.engineName}`);
  for (const megabytes of SIZES_MB) {
    const length = (megabytes * 1024 * 1024) / 4;
    const buffer = (role === 'ring-plain' ? new Float32Array(length) : group.allocate(length)).fill(1);
    // warm-up, two back to back as in the timed loop (page faults; the ring's pool, which holds the frames a peer
    // sends for the next all-reduce before this rank has started it)
    for (let warmUp = 0; warmUp < WARM_UPS; warmUp += 1) await group.allReduce(buffer);
    const repeats = repeatsFor(megabytes);
    await group.barrier();
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    const faultsStart = process.resourceUsage().minorPageFault;
    for (let repeat = 0; repeat < repeats; repeat += 1) await group.allReduce(buffer);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9 / repeats;
    const cpu = process.cpuUsage(cpuStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6 / repeats;
    const faults = (process.resourceUsage().minorPageFault - faultsStart) / repeats;
    if (group.rank === 0) process.stdout.write(`TIME ${megabytes} ${seconds} ${cpuSeconds} ${faults} ${cpu.system / 1e6 / repeats}\n`);
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

/** A python that imports torch with Gloo, or undefined. */
function torchPython(): string | undefined {
  const candidates = process.env.BENCH_PYTHON === undefined ? ['python3', '/usr/bin/python3'] : [process.env.BENCH_PYTHON].filter((entry) => entry !== '');
  return candidates.find(
    (python) => spawnSync(python, ['-c', 'import torch.distributed as d; assert d.is_gloo_available()'], { stdio: 'ignore' }).status === 0,
  );
}

/** Run one engine with `worldSize` ranks; returns seconds per all-reduce by size (from rank 0's output). */
async function runEngine(engine: EngineName, worldSize: number, python: string | undefined): Promise<Map<number, [number, number, number, number]>> {
  const port = await freePort();
  const times = new Map<number, [number, number, number, number]>();
  const children = Array.from({ length: worldSize }, (_, rank) => {
    const env = {
      ...process.env,
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(rank),
      LOCAL_WORLD_SIZE: String(worldSize),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
    };
    return engine === 'torch'
      ? spawn(python ?? 'python3', [path.join(__dirname, 'gloo_allreduce.py')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, SIZES_MB: SIZES_MB.join(',') } })
      : spawn(process.execPath, [...NODE_ARGS, '--import', 'tsx', __filename], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...env, BENCH_RANK: engine, RLHFJS_RUN_ID: `bench-${port}` },
        });
  });
  children.forEach((child) =>
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        const [tag, megabytes, seconds, cpuSeconds, faults, systemSeconds] = line.trim().split(' ');
        if ((tag === 'TIME' || tag === 'GLOO') && megabytes !== undefined && seconds !== undefined) {
          times.set(Number(megabytes), [Number(seconds), Number(cpuSeconds), Number(faults), Number(systemSeconds)]);
        }
      }
    }),
  );
  const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 300_000);
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  clearTimeout(timer);
  return times;
}

function busGigabytesPerSecond(megabytes: number, worldSize: number, seconds: number | undefined): number {
  return seconds === undefined ? Number.NaN : (megabytes * 1024 * 1024 * 2 * (worldSize - 1)) / worldSize / seconds / 1e9;
}

async function driver(): Promise<void> {
  const engines: EngineName[] = (['ring', 'ring-plain'] as const).filter((engine) => WANTED.includes(engine));
  if (!WANTED.includes('gloo')) {
    // not asked for
  } else if (isGlooAvailable()) engines.push('gloo');
  else process.stdout.write(`our gloo engine is unavailable: ${glooUnavailableReason()}\n`);
  const python = WANTED.includes('torch') ? torchPython() : undefined;
  if (python !== undefined) engines.push('torch');
  else if (WANTED.includes('torch')) process.stdout.write("PyTorch with Gloo not found: no ratios against PyTorch's Gloo\n");
  process.stdout.write(`bus bandwidth = bytes × 2(n−1)/n / time; best of ${ROUNDS} alternating rounds per engine; torch = PyTorch's Gloo\n`);
  const verdicts: string[] = [];
  const largest = Math.max(...SIZES_MB);
  for (const worldSize of WORLD_SIZES) {
    const best = new Map<EngineName, Map<number, number>>(engines.map((engine) => [engine, new Map()]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const engine of engines) {
        const times = await runEngine(engine, worldSize, python);
        const bestOfEngine = best.get(engine) as Map<number, number>;
        for (const [megabytes, [seconds]] of times) bestOfEngine.set(megabytes, Math.min(seconds, bestOfEngine.get(megabytes) ?? Infinity));
        const described = [...times].map(
          ([mb, [s, cpu, faults, system]]) =>
            `${mb} MB ${(s * 1000).toFixed(1)} ms (rank 0: CPU ${(cpu * 1000).toFixed(0)} ms of which kernel ${(system * 1000).toFixed(0)}, ${faults.toFixed(0)} page faults)`,
        );
        process.stdout.write(`  round ${round + 1} ${engine.padEnd(10)} ranks ${worldSize}: ${described.join(', ')}  load ${loadavg()[0]?.toFixed(1)}\n`);
      }
    }
    for (const megabytes of SIZES_MB) {
      const torch = busGigabytesPerSecond(megabytes, worldSize, best.get('torch')?.get(megabytes));
      const columns = engines.map((engine) => {
        const bus = busGigabytesPerSecond(megabytes, worldSize, best.get(engine)?.get(megabytes));
        const ratio = engine === 'torch' || !Number.isFinite(torch) ? '' : ` (${(bus / torch).toFixed(2)}×)`;
        return `${engine} ${bus.toFixed(3)} GB/s${ratio}`;
      });
      process.stdout.write(`ranks ${worldSize}  ${String(megabytes).padStart(3)} MB  ${columns.join('  ')}\n`);
      if (megabytes === largest) verdicts.push(verdict(worldSize, megabytes, engines, torch, best));
    }
  }
  for (const line of verdicts) process.stdout.write(`${line}\n`);
}

/** One line per world size: each of our engines' ratio to PyTorch's Gloo at the largest size, against the 1.0× goal. */
function verdict(worldSize: number, megabytes: number, engines: EngineName[], torch: number, best: Map<EngineName, Map<number, number>>): string {
  const ours = engines.filter((engine) => engine !== 'torch');
  if (!Number.isFinite(torch)) return `verdict ranks ${worldSize}, ${megabytes} MB: no PyTorch Gloo figure to compare with`;
  const parts = ours.map((engine) => {
    const ratio = busGigabytesPerSecond(megabytes, worldSize, best.get(engine)?.get(megabytes)) / torch;
    return `${engine} ${ratio.toFixed(2)}× ${ratio >= 1 ? 'meets' : 'misses'}`;
  });
  return `verdict ranks ${worldSize}, ${megabytes} MB, goal ≥ 1.0× PyTorch's Gloo: ${parts.join(', ')} (load ${loadavg()[0]?.toFixed(1)})`;
}

const role = process.env.BENCH_RANK;
(role === 'ring' || role === 'ring-plain' || role === 'gloo' ? rankMain(role) : driver()).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
