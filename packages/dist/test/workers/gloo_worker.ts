// Worker process for the Gloo engine tests: runs one scenario (env SCENARIO) and prints `RESULT <json>` lines.
import { DistError } from '@rlhfjs/core';
import { initGlooEngine, type GlooEngine } from '@rlhfjs/dist';

function emit(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

/** Integer-valued input of rank r at index i, so sums are exact in float32. */
function value(rank: number, index: number): number {
  return ((index * 7 + rank * 13) % 101) - 50;
}

function join(): Promise<GlooEngine> {
  const env = process.env;
  return initGlooEngine({
    timeoutMs: env.RENDEZVOUS_TIMEOUT_MS === undefined ? 20_000 : Number(env.RENDEZVOUS_TIMEOUT_MS),
    collectiveTimeoutMs: env.COLLECTIVE_TIMEOUT_MS === undefined ? 20_000 : Number(env.COLLECTIVE_TIMEOUT_MS),
  });
}

/** All-reduce (sum, mean, max, min), broadcast and barrier; reports each result beside the expected one. */
async function collectives(): Promise<void> {
  const engine = await join();
  const { rank, worldSize } = engine;
  const length = Number(process.env.LENGTH ?? 70_001);
  const input = (r: number): Float32Array => Float32Array.from({ length }, (_, index) => value(r, index));
  const mismatches: Record<string, number> = {};
  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    const buffer = input(rank);
    await engine.allReduce(buffer, op);
    let wrong = 0;
    for (let index = 0; index < length; index += 1) {
      const values = Array.from({ length: worldSize }, (_, r) => value(r, index));
      const sum = values.reduce((total, entry) => total + entry, 0);
      const expected = op === 'sum' ? sum : op === 'mean' ? Math.fround(sum / worldSize) : op === 'max' ? Math.max(...values) : Math.min(...values);
      if (buffer[index] !== expected) wrong += 1;
    }
    mismatches[op] = wrong;
  }
  const first = input(rank);
  await engine.allReduce(first, 'sum');
  const root = worldSize - 1;
  const broadcast = rank === root ? input(root) : new Float32Array(length);
  await engine.broadcast(broadcast, root);
  const expectedBroadcast = input(root);
  const broadcastWrong = broadcast.reduce((count, entry, index) => count + (entry === expectedBroadcast[index] ? 0 : 1), 0);
  await engine.barrier();
  emit({ rank, worldSize, name: engine.name, mismatches, broadcastWrong, head: Array.from(first.subarray(0, 4)) });
  await engine.destroy();
}

/** Rank 1 leaves (hard exit, or SIGSTOP for a hung peer) after one all-reduce; rank 0 reports how its next one fails. */
async function peerFailure(): Promise<void> {
  const engine = await join();
  await engine.allReduce(new Float32Array(1024).fill(1));
  if (engine.rank === 1) {
    if (process.env.FAILURE === 'hang') process.kill(process.pid, 'SIGSTOP');
    process.exit(3);
  }
  const started = Date.now();
  const errors: Array<{ name: string; code: string; message: string }> = [];
  const tick = setInterval(() => undefined, 10);
  let ticks = 0;
  const counter = setInterval(() => (ticks += 1), 50);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await engine.allReduce(new Float32Array(1 << 20).fill(2));
      errors.push({ name: 'none', code: 'none', message: 'resolved' });
    } catch (error) {
      errors.push({ name: (error as Error).constructor.name, code: String((error as DistError).code), message: (error as Error).message });
    }
  }
  clearInterval(tick);
  clearInterval(counter);
  emit({ rank: engine.rank, errors, elapsedMs: Date.now() - started, eventLoopTicks: ticks, isDistError: errors.map((entry) => entry.name === 'DistError') });
  await engine.destroy();
}

const scenarios: Record<string, () => Promise<void>> = { collectives, peerFailure };
const scenario = scenarios[process.env.SCENARIO ?? ''];
if (scenario === undefined) {
  process.stderr.write(`unknown SCENARIO ${process.env.SCENARIO}\n`);
  process.exit(2);
}
scenario().then(
  () => process.exit(0),
  (error: unknown) => {
    emit({ failed: true, name: (error as Error).constructor?.name, code: (error as DistError).code, message: String((error as Error).message ?? error) });
    process.exit(1);
  },
);
