import * as path from 'node:path';
import { isGlooAvailable } from '@rlhfjs/dist';
import { freePort, rankEnv, Worker } from '../helpers';

const GLOO_WORKER = path.join(__dirname, '..', 'workers', 'gloo_worker.ts');

/** The worker's integer input (see gloo_worker.ts): sums are exact in float32. */
function value(rank: number, index: number): number {
  return ((index * 7 + rank * 13) % 101) - 50;
}

describe('Gloo engine across real processes', () => {
  let workers: Worker[] = [];
  afterEach(() => {
    workers.forEach((worker) => worker.kill());
    workers = [];
  });

  const start = (worldSize: number, port: number, extra: Record<string, string>): Worker[] =>
    Array.from({ length: worldSize }, (_, rank) => new Worker(rankEnv(rank, worldSize, port, extra), GLOO_WORKER));

  if (!isGlooAvailable()) {
    it('without the addon, joining the Gloo engine is DistError UNAVAILABLE', async () => {
      workers = start(2, await freePort(), { SCENARIO: 'collectives' });
      const result = await workers[0]!.waitFor((entry) => entry.failed === true, 30_000);
      expect(result).toMatchObject({ name: 'DistError', code: 'UNAVAILABLE' });
    }, 45_000);
    return;
  }

  it.each([2, 3])('%i ranks: all-reduce equals the sum (and mean, max, min), broadcast and barrier, on every rank', async (worldSize) => {
    workers = start(worldSize, await freePort(), { SCENARIO: 'collectives', LENGTH: '70001' });
    const results = await Promise.all(workers.map((worker) => worker.waitFor((entry) => 'rank' in entry || entry.failed === true, 40_000)));
    const expectedHead = [0, 1, 2, 3].map((index) => Array.from({ length: worldSize }, (_, rank) => value(rank, index)).reduce((a, b) => a + b, 0));
    results.forEach((result, rank) => {
      expect(result).toEqual({
        rank,
        worldSize,
        name: 'gloo',
        mismatches: { sum: 0, mean: 0, max: 0, min: 0 },
        broadcastWrong: 0,
        head: expectedHead,
      });
    });
  }, 60_000);

  it('a dead peer: the next all-reduce is DistError PEER_LOST (long before the 60 s deadline), later ones ABORTED', async () => {
    workers = start(2, await freePort(), { SCENARIO: 'peerFailure', FAILURE: 'exit', COLLECTIVE_TIMEOUT_MS: '60000' });
    const result = await workers[0]!.waitFor((entry) => 'errors' in entry || entry.failed === true, 40_000);
    expect(result.isDistError).toEqual([true, true]);
    const errors = result.errors as Array<{ code: string; message: string }>;
    expect(errors.map((error) => error.code)).toEqual(['PEER_LOST', 'ABORTED']);
    expect(errors[0]?.message).toMatch(/GlooEngine.allReduce #\d+: rank 0: .*(closed|reset) by peer/);
  }, 60_000);

  it('a hung peer: DistError TIMEOUT at the collective deadline while the event loop keeps running', async () => {
    workers = start(2, await freePort(), { SCENARIO: 'peerFailure', FAILURE: 'hang', COLLECTIVE_TIMEOUT_MS: '1500' });
    const result = await workers[0]!.waitFor((entry) => 'errors' in entry || entry.failed === true, 40_000);
    const errors = result.errors as Array<{ code: string; message: string }>;
    expect(errors.map((error) => error.code)).toEqual(['TIMEOUT', 'ABORTED']);
    expect(errors[0]?.message).toMatch(/Timed out waiting 1500ms/);
    // A 50 ms interval kept firing while gloo waited on its pool thread.
    expect(result.eventLoopTicks).toBeGreaterThan(5);
  }, 60_000);
});
