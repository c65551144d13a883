import { isGlooAvailable, launch } from '@rlhfjs/dist';
import type { ChildProcess } from 'node:child_process';
import { freePort, rankEnv, Worker, WORKER } from '../helpers';

/** Every rank must report no failures and the same result bits for every collective. */
function expectAgreement(results: Array<Record<string, unknown>>, worldSize: number): void {
  expect(results).toHaveLength(worldSize);
  for (const result of results) expect(result.failures).toEqual([]);
  const digests = results.map((result) => JSON.stringify(result.digests));
  expect(new Set(digests).size).toBe(1);
}

describe('collectives across real processes', () => {
  let workers: Worker[] = [];
  afterEach(() => {
    workers.forEach((worker) => worker.kill());
    workers = [];
  });

  // Both engines explicitly, whatever RLHFJS_DIST_ENGINE says: the pure-JS ring everywhere, and Gloo where its
  // addon is built (CI builds it; `auto` would take it), so that CI covers both paths.
  const engines = ['ring', ...(isGlooAvailable() ? ['gloo'] : [])];
  it.each(
    engines.flatMap((engine) => [
      // world size 3 takes the ring from 64 bytes up, in 4 KiB frames: many frames, uneven segments.
      [engine, 3, { RING_THRESHOLD_BYTES: '64', CHUNK_BYTES: '4096' }] as const,
      [engine, 4, {}] as const,
    ]),
  )('engine %s, world size %i: exact sums, means, max, min, broadcasts, gathers, reduce-scatter', async (engine, worldSize, extra) => {
    const port = await freePort();
    workers = Array.from(
      { length: worldSize },
      (_, rank) => new Worker(rankEnv(rank, worldSize, port, { SCENARIO: 'collectives', RLHFJS_DIST_ENGINE: engine, ...extra })),
    );
    const results = await Promise.all(workers.map((worker) => worker.waitFor((result) => 'failures' in result || 'fatal' in result, 40_000)));
    expectAgreement(results, worldSize);
    expect(results.map((result) => result.engine)).toEqual(Array(worldSize).fill(engine));
    // (RLHFJS_DIST_SIMD=0 turns the WebAssembly path off: then `allocate` gives plain arrays, and the sums above
    // ran through the scalar loops)
    const simd = process.env.RLHFJS_DIST_SIMD !== '0';
    expect(results.map((result) => result.besideLanding)).toEqual(Array(worldSize).fill(engine === 'ring' && simd));
  }, 60_000);

  it('the default engine is Gloo where its addon is built, else the ring', async () => {
    const port = await freePort();
    const env = (rank: number): Record<string, string> => ({ ...rankEnv(rank, 2, port, { SCENARIO: 'smallAllReduce' }), RLHFJS_DIST_ENGINE: 'auto' });
    workers = [0, 1].map((rank) => new Worker(env(rank)));
    const results = await Promise.all(workers.map((worker) => worker.waitFor((result) => 'small' in result || 'fatal' in result, 40_000)));
    expect(results.map((result) => result.failures)).toEqual([[], []]);
    expect(results.map((result) => result.small)).toEqual([
      [3, 30],
      [3, 30],
    ]);
    expect(results.map((result) => result.engine)).toEqual(Array(2).fill(isGlooAvailable() ? 'gloo' : 'ring'));
  }, 60_000);

  it('world size 2 through launch(), including a 25 MB buffer', async () => {
    let children: readonly ChildProcess[] = [];
    const outputs: string[] = ['', ''];
    const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 50_000);
    try {
      const result = await launch({
        nprocPerNode: 2,
        command: [process.execPath, '--import', 'tsx', WORKER],
        env: { ...process.env, SCENARIO: 'collectives', BIG: '1' },
        stdio: 'pipe',
        forwardSignals: false,
        gracePeriodMs: 500,
        onSpawn: (spawned) => {
          children = spawned;
          spawned.forEach((child, index) => child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (outputs[index] += chunk)));
          spawned.forEach((child) => child.stderr?.resume());
        },
      });
      expect(result.exitCode).toBe(0);
      const results = outputs.map((output) => JSON.parse(output.split('\n').find((line) => line.startsWith('RESULT '))?.slice(7) ?? '{}'));
      expectAgreement(results, 2);
      expect(results.map((entry) => entry.rank)).toEqual([0, 1]);
    } finally {
      clearTimeout(timer);
      children.forEach((child) => child.kill('SIGKILL'));
    }
  }, 60_000);
});
