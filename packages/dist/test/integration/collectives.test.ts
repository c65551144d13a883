import { launch } from '@rlhfjs/dist';
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

  it.each([
    // world size 3 takes the ring from 64 bytes up, in 4 KiB frames: many frames, uneven segments.
    [3, { RING_THRESHOLD_BYTES: '64', CHUNK_BYTES: '4096' }],
    [4, {}],
  ])('world size %i: exact sums, means, max, min, broadcasts, gathers, reduce-scatter', async (worldSize, extra) => {
    const port = await freePort();
    workers = Array.from({ length: worldSize }, (_, rank) => new Worker(rankEnv(rank, worldSize, port, { SCENARIO: 'collectives', ...extra })));
    const results = await Promise.all(workers.map((worker) => worker.waitFor((result) => 'failures' in result || 'fatal' in result, 40_000)));
    expectAgreement(results, worldSize);
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
