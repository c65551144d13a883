import { freePort, rankEnv, Worker } from '../helpers';

describe('faults across real processes', () => {
  let workers: Worker[] = [];
  afterEach(() => {
    workers.forEach((worker) => worker.kill());
    workers = [];
  });

  const ready = (result: Record<string, unknown>): boolean => result.ready === true || result.fatal === true;
  const failed = (result: Record<string, unknown>): boolean => typeof result.code === 'string';

  it('a rank killed mid-collective: every other rank fails with PEER_LOST within 2 s', async () => {
    const port = await freePort();
    // 4 MiB buffers: the ring is mid-transfer most of the time.
    workers = [0, 1, 2].map((rank) => new Worker(rankEnv(rank, 3, port, { SCENARIO: 'faultLoop', FAULT_LENGTH: String(1 << 20) })));
    await Promise.all(workers.map((worker) => worker.waitFor(ready, 30_000)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const killedAt = Date.now();
    workers[1]?.child.kill('SIGKILL');
    const errors = await Promise.all([0, 2].map((rank) => workers[rank]!.waitFor(failed, 5_000)));
    for (const error of errors) {
      expect(error.code).toBe('PEER_LOST');
      expect(error.peer).toBe(1);
      expect((error.at as number) - killedAt).toBeLessThan(2_000);
    }
  }, 45_000);

  it('a stopped rank: the others fail with TIMEOUT within the deadline + 1 s', async () => {
    const port = await freePort();
    workers = [0, 1, 2].map((rank) => new Worker(rankEnv(rank, 3, port, { SCENARIO: 'faultLoop', COLLECTIVE_TIMEOUT_MS: '1500' })));
    await Promise.all(workers.map((worker) => worker.waitFor(ready, 30_000)));
    const stoppedAt = Date.now();
    workers[2]?.child.kill('SIGSTOP');
    try {
      const errors = await Promise.all([0, 1].map((rank) => workers[rank]!.waitFor(failed, 5_000)));
      for (const error of errors) {
        expect(error.code).toBe('TIMEOUT');
        expect((error.at as number) - stoppedAt).toBeLessThan(1_500 + 1_000);
      }
      // Rank 0 (the star's hub) waits on the stopped rank itself and names it.
      expect(errors[0]?.peer).toBe(2);
    } finally {
      workers[2]?.child.kill('SIGKILL');
    }
  }, 45_000);

  it('a rank that never joins: RENDEZVOUS after the rendezvous timeout, naming it', async () => {
    const port = await freePort();
    const startedAt = Date.now();
    workers = [0, 1].map((rank) => new Worker(rankEnv(rank, 3, port, { SCENARIO: 'joinOnly', RENDEZVOUS_TIMEOUT_MS: '6000' })));
    const errors = await Promise.all(workers.map((worker) => worker.waitFor(failed, 20_000)));
    for (const error of errors) {
      expect([error.code, error.message]).toEqual(['RENDEZVOUS', expect.anything()]);
      expect([error.peer, error.message]).toEqual([2, expect.anything()]);
      expect(error.message).toMatch(/rank\(s\) 2 of 3 never joined/);
    }
    expect(Date.now() - startedAt).toBeGreaterThan(6_000);
  }, 45_000);

  it('a stranger with a wrong secret is refused with AUTH and the group keeps working', async () => {
    const port = await freePort();
    workers = [0, 1].map((rank) => new Worker(rankEnv(rank, 2, port, { SCENARIO: 'strangerTarget', RLHFJS_DIST_SECRET: 'right' })));
    await Promise.all(workers.map((worker) => worker.waitFor(ready, 30_000)));
    // The stranger tries to join as rank 1 of the same run, at rank 0's store, with the wrong secret.
    const stranger = new Worker(rankEnv(1, 2, port, { SCENARIO: 'joinOnly', RLHFJS_DIST_SECRET: 'wrong', RENDEZVOUS_TIMEOUT_MS: '5000' }));
    workers.push(stranger);
    const refusal = await stranger.waitFor(failed, 20_000);
    expect(refusal.code).toBe('AUTH');
    workers.slice(0, 2).forEach((worker) => worker.child.stdin?.write('go\n'));
    const sums = await Promise.all(workers.slice(0, 2).map((worker) => worker.waitFor((result) => 'sum' in result || failed(result), 20_000)));
    expect(sums.map((result) => result.sum)).toEqual([30, 30]);
  }, 45_000);
});
