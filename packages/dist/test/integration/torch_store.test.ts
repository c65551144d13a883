import { isGlooAvailable } from '@rlhfjs/dist';
import { freePort, rankEnv, Worker } from '../helpers';
import { TorchStoreHost } from '../torch/torch_store_host';

describe("rendezvous through torchrun's agent store (a real PyTorch TCPStore)", () => {
  let workers: Worker[] = [];
  let host: TorchStoreHost | undefined;
  afterEach(() => {
    workers.forEach((worker) => worker.kill());
    workers = [];
    host?.stop();
  });

  // Both engines: Gloo's rendezvous (its addresses, base64 in the store) goes through the PyTorch TCPStore too.
  it.each(['ring', ...(isGlooAvailable() ? ['gloo'] : [])])('engine %s, TORCHELASTIC_USE_AGENT_STORE=True: 2 ranks meet through the Python-hosted store and all-reduce', async (engine) => {
    const port = await freePort();
    // world 3: the host counts itself in at "init/"; its constructor returns once both JS ranks counted in too
    host = new TorchStoreHost(port, 3);
    await host.waitForLine('TORCH ', 30_000);
    const runId = `torch-store-${port}`;
    workers = [0, 1].map(
      (rank) =>
        new Worker(
          rankEnv(rank, 2, port, { SCENARIO: 'smallAllReduce', RLHFJS_DIST_ENGINE: engine, TORCHELASTIC_USE_AGENT_STORE: 'True', RLHFJS_RUN_ID: runId, RLHFJS_DIST_SECRET: 'test-secret' }),
        ),
    );
    const results = await Promise.all(workers.map((worker) => worker.waitFor((result) => 'small' in result || 'fatal' in result, 45_000)));
    await host.waitForLine('JOINED', 5_000);
    expect(results.map((result) => result.small)).toEqual([
      [3, 30],
      [3, 30],
    ]);
    expect(results.map((result) => result.failures)).toEqual([[], []]);
    expect(results[0]?.digest).toBe(results[1]?.digest);
    expect(results.map((result) => result.engine)).toEqual([engine, engine]);
    // rank 0 did not listen on MASTER_PORT (the store's port): it published its data address in the store,
    // where a Python client reads it
    expect(await host.pythonGet(`${runId}/0/addr/0`)).toMatch(/^127\.0\.0\.1:\d+$/);
  }, 90_000);
});
