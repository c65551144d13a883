import * as tf from '@tensorflow/tfjs';
import { DistError } from '@rlhfjs/core';
import { createServer } from 'node:net';
import { initProcessGroup } from '../group/init_process_group';
import type { ProcessGroup } from '../group/process_group';
import { DistributedReducer } from './distributed_reducer';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

/** Two ranks in this one process, over real TCP sockets. */
async function twoRanks(): Promise<ProcessGroup[]> {
  const port = await freePort();
  return Promise.all(
    [0, 1].map((rank) =>
      initProcessGroup({ rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, runId: `reducer-${port}`, timeoutMs: 10_000, collectiveTimeoutMs: 10_000, env: {} }),
    ),
  );
}

function gradients(rank: number, order: 'normal' | 'reshaped' = 'normal'): tf.NamedTensorMap {
  // Non-integer values: the distributed mean must still equal (g0 + g1) / 2 computed here bit for bit.
  const values = (count: number, salt: number): Float32Array =>
    Float32Array.from({ length: count }, (_, index) => Math.sin(index * 1.7 + salt + rank * 0.3) * 0.01);
  return {
    'wte.weight': tf.tensor(values(40 * 8, 1), [40, 8]),
    'h.0.attn.bias': tf.tensor(values(24, 2), order === 'normal' ? [24] : [4, 6]),
    'ln_f.weight': tf.tensor(values(8, 3), [8]),
  };
}

describe('DistributedReducer', () => {
  let groups: ProcessGroup[] = [];
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(async () => {
    await Promise.all(groups.map((group) => group.destroy()));
    groups = [];
  });

  it('averages gradients exactly as one process would, in small buckets, without leaking', async () => {
    groups = await twoRanks();
    // 1 KiB buckets: several buckets, and wte.weight (1280 B) gets its own.
    const reducers = groups.map((group) => new DistributedReducer(group, { bucketBytes: 1024 }));
    const inputs = [gradients(0), gradients(1)];
    const expected = Object.fromEntries(
      Object.keys(inputs[0] as tf.NamedTensorMap).map((name) => [name, tf.tidy(() => tf.div(tf.add(inputs[0]![name]!, inputs[1]![name]!), 2).dataSync())]),
    );
    const before = tf.memory().numTensors;
    for (let step = 0; step < 2; step += 1) {
      const outputs = await Promise.all(reducers.map((reducer, rank) => reducer.allReduceGradients(inputs[rank] as tf.NamedTensorMap)));
      for (const output of outputs) {
        expect(Object.keys(output)).toEqual(['wte.weight', 'h.0.attn.bias', 'ln_f.weight']);
        for (const [name, tensor] of Object.entries(output)) {
          expect(tensor.shape).toEqual(inputs[0]![name]!.shape);
          expect(Array.from(tensor.dataSync())).toEqual(Array.from(expected[name] as Float32Array));
        }
        tf.dispose(output);
      }
      expect(tf.memory().numTensors).toBe(before);
    }
    // The caller's tensors are untouched.
    expect(inputs[0]!['ln_f.weight']!.isDisposed).toBe(false);
    expect(await Promise.all(reducers.map((reducer, rank) => reducer.allReduceSum([rank + 1, 2 ** 40])))).toEqual([
      [3, 2 ** 41],
      [3, 2 ** 41],
    ]);
    inputs.forEach((input) => tf.dispose(input));
  }, 30_000);

  it('detects a different parameter order with DESYNC naming the first differing parameter', async () => {
    groups = await twoRanks();
    const reducers = groups.map((group) => new DistributedReducer(group));
    const inputs = [gradients(0), gradients(1, 'reshaped')];
    const results = await Promise.allSettled(reducers.map((reducer, rank) => reducer.allReduceGradients(inputs[rank] as tf.NamedTensorMap)));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as DistError;
      expect(error).toBeInstanceOf(DistError);
      expect(error.code).toBe('DESYNC');
      expect(error.message).toMatch(/h\.0\.attn\.bias/);
    }
    inputs.forEach((input) => tf.dispose(input));
  }, 30_000);

  it('broadcastParameters copies rank 0 weights into rank 1 variables', async () => {
    groups = await twoRanks();
    const reducers = groups.map((group) => new DistributedReducer(group, { bucketBytes: 64 }));
    const parameters = [0, 1].map(
      (rank) => new Map([['a', tf.variable(tf.fill([3, 5], rank + 1))], ['b', tf.variable(tf.fill([30], 10 * (rank + 1)))]]),
    );
    await Promise.all(reducers.map((reducer, rank) => reducer.broadcastParameters(parameters[rank]!, 0)));
    expect(Array.from(parameters[1]!.get('a')!.dataSync())).toEqual(new Array(15).fill(1));
    expect(Array.from(parameters[1]!.get('b')!.dataSync())).toEqual(new Array(30).fill(10));
    parameters.forEach((map) => map.forEach((variable) => variable.dispose()));
  }, 30_000);
});
