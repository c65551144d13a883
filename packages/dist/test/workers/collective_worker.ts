// Worker process for the integration tests: runs one scenario (env SCENARIO) and prints `RESULT <json>` lines.
import { createHash } from 'node:crypto';
import { DistError } from '@rlhfjs/core';
import { initProcessGroup, segmentBounds, type ProcessGroupOptions, type ReduceOp } from '@rlhfjs/dist';

function emit(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

function digest(array: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength)).digest('hex').slice(0, 16);
}

/** Integer-valued input of rank r at index i, so sums are exact in float32. */
function value(rank: number, index: number): number {
  return ((index * 7 + rank * 13) % 101) - 50;
}

function groupOptions(): ProcessGroupOptions {
  const env = process.env;
  return {
    timeoutMs: env.RENDEZVOUS_TIMEOUT_MS === undefined ? 20_000 : Number(env.RENDEZVOUS_TIMEOUT_MS),
    collectiveTimeoutMs: env.COLLECTIVE_TIMEOUT_MS === undefined ? 20_000 : Number(env.COLLECTIVE_TIMEOUT_MS),
    ringThresholdBytes: env.RING_THRESHOLD_BYTES === undefined ? undefined : Number(env.RING_THRESHOLD_BYTES),
    chunkBytes: env.CHUNK_BYTES === undefined ? undefined : Number(env.CHUNK_BYTES),
  };
}

async function collectives(): Promise<void> {
  const group = await initProcessGroup(groupOptions());
  const { rank, worldSize: n } = group;
  const lengths = [0, 1, n - 1, n + 1, 1000, 70_001, ...(process.env.BIG === '1' ? [25 * 262_144 + 3] : [])];
  const failures: string[] = [];
  const digests: string[] = [];
  const ops: ReduceOp[] = ['sum', 'mean', 'max', 'min'];
  for (const length of lengths) {
    // Expected results, computed once per length with plain loops (cheap next to the collectives).
    const sums = new Float64Array(length);
    const maxima = new Float64Array(length).fill(-Infinity);
    const minima = new Float64Array(length).fill(Infinity);
    for (let r = 0; r < n; r += 1) {
      for (let index = 0; index < length; index += 1) {
        const entry = value(r, index);
        sums[index] = (sums[index] as number) + entry;
        if (entry > (maxima[index] as number)) maxima[index] = entry;
        if (entry < (minima[index] as number)) minima[index] = entry;
      }
    }
    // plain arrays, and from 1000 elements also `group.allocate` ones (the ring sums those in place)
    for (const allocated of length >= 1000 ? [false, true] : [false]) {
      for (const op of length > 100_000 ? (['sum'] as ReduceOp[]) : ops) {
        const buffer = allocated ? group.allocate(length) : new Float32Array(length);
        for (let index = 0; index < length; index += 1) buffer[index] = value(rank, index);
        await group.allReduce(buffer, op);
        for (let index = 0; index < length; index += 1) {
          const sum = sums[index] as number;
          const expected = op === 'sum' ? sum : op === 'mean' ? Math.fround(sum / n) : op === 'max' ? maxima[index] : minima[index];
          if (buffer[index] !== expected) {
            failures.push(`allReduce ${op} length ${length}${allocated ? ' (allocated)' : ''} index ${index}: got ${buffer[index]}, expected ${expected}`);
            break;
          }
        }
        digests.push(digest(buffer));
      }
    }
  }
  // Non-integer values: no exact expectation, but every rank must hold the same bits.
  const noisy = new Float32Array(70_001).map((_, index) => Math.sin(index * 0.37 + rank) * 1e-3 + rank * 0.1);
  await group.allReduce(noisy, 'sum');
  digests.push(digest(noisy));
  const allocated64 = group.allocate(70_001, 'float64').map((_, index) => 2 ** 40 + index * n + rank);
  await group.allReduce(allocated64, 'mean');
  const expectedMean = (index: number): number => 2 ** 40 + index * n + (n - 1) / 2; // exact in float64
  const wrong64 = allocated64.findIndex((entry, index) => entry !== expectedMean(index));
  if (wrong64 >= 0) failures.push(`allocated float64 mean index ${wrong64}: got ${allocated64[wrong64]}, expected ${expectedMean(wrong64)}`);
  const float64 = Float64Array.from([2 ** 40 + rank, rank]);
  await group.allReduce(float64, 'sum');
  const triangle = (n * (n - 1)) / 2;
  if (float64[0] !== n * 2 ** 40 + triangle || float64[1] !== triangle) failures.push(`float64 allReduce got ${Array.from(float64)}`);
  for (const length of [0, 3, 70_001]) {
    const root = n - 1;
    const buffer = new Float32Array(length).map((_, index) => (rank === root ? value(root, index) : -999));
    await group.broadcast(buffer, root);
    if (buffer.some((entry, index) => entry !== value(root, index))) failures.push(`broadcast length ${length} wrong`);
  }
  const gathered = await group.allGather(new Float32Array(rank + 1).fill(rank));
  if (gathered.length !== n || gathered.some((part, r) => part.length !== r + 1 || part.some((entry) => entry !== r))) {
    failures.push(`allGather wrong: ${JSON.stringify(gathered.map((part) => Array.from(part)))}`);
  }
  const objects = await group.allGatherObject({ rank, name: `rank-${rank}` });
  if (objects.some((object, r) => object.rank !== r || object.name !== `rank-${r}`)) failures.push('allGatherObject wrong');
  const broadcasted = await group.broadcastObject(rank === 1 ? { from: 1, list: [1, 2] } : null, 1);
  if (JSON.stringify(broadcasted) !== '{"from":1,"list":[1,2]}') failures.push(`broadcastObject got ${JSON.stringify(broadcasted)}`);
  for (const length of [0, 1, n + 1, 1001]) {
    const input = new Float32Array(length).map((_, index) => value(rank, index));
    const before = digest(input);
    const segment = await group.reduceScatter(input, 'sum');
    const [start, end] = segmentBounds(length, n, rank);
    if (digest(input) !== before) failures.push('reduceScatter modified its input');
    if (segment.length !== end - start) failures.push(`reduceScatter length ${length}: segment ${segment.length} != ${end - start}`);
    segment.forEach((entry, offset) => {
      const expected = Array.from({ length: n }, (_, r) => value(r, start + offset)).reduce((a, b) => a + b, 0);
      if (entry !== expected) failures.push(`reduceScatter length ${length} at ${start + offset}: ${entry} != ${expected}`);
    });
  }
  await group.barrier();
  // the ring's `allocate` places arrays inside a larger (WebAssembly) memory, beside its landing area; Gloo's are plain
  const probe = group.allocate(1 << 20);
  const besideLanding = probe.byteOffset > 0 && probe.buffer.byteLength > probe.byteLength && probe.every((entry) => entry === 0);
  emit({ rank, engine: group.engineName, failures: failures.slice(0, 10), digests, besideLanding });
  await group.destroy();
}

async function faultLoop(): Promise<void> {
  const group = await initProcessGroup(groupOptions());
  const buffer = new Float32Array(Number(process.env.FAULT_LENGTH ?? '16'));
  await group.barrier();
  emit({ rank: group.rank, ready: true });
  try {
    for (;;) await group.allReduce(buffer, 'sum');
  } catch (error) {
    emit({ rank: group.rank, at: Date.now(), code: (error as DistError).code, peer: (error as DistError).peer, message: (error as Error).message });
  }
  await group.destroy();
}

async function joinOnly(): Promise<void> {
  try {
    const group = await initProcessGroup(groupOptions());
    await group.allReduce(new Float32Array(4));
    emit({ rank: group.rank, joined: true });
    await group.destroy();
  } catch (error) {
    emit({ code: (error as DistError).code, peer: (error as DistError).peer, message: (error as Error).message });
  }
}

async function waitForLine(): Promise<void> {
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  process.stdin.pause();
}

async function strangerTarget(): Promise<void> {
  const group = await initProcessGroup(groupOptions());
  const buffer = new Float32Array([group.rank + 1]);
  await group.allReduce(buffer);
  emit({ rank: group.rank, ready: true });
  await waitForLine();
  const after = new Float32Array([10 * (group.rank + 1)]);
  await group.allReduce(after);
  emit({ rank: group.rank, sum: after[0] });
  await group.destroy();
}

/** Rendezvous (through whichever store the environment names), then one star and one ring all-reduce. */
async function smallAllReduce(): Promise<void> {
  const group = await initProcessGroup(groupOptions());
  const small = new Float32Array([group.rank + 1, 10 * (group.rank + 1)]);
  await group.allReduce(small, 'sum');
  const large = new Float32Array(200_003).map((_, index) => value(group.rank, index));
  await group.allReduce(large, 'sum');
  const failures: string[] = [];
  for (let index = 0; index < large.length; index += 1) {
    let expected = 0;
    for (let r = 0; r < group.worldSize; r += 1) expected += value(r, index);
    if (large[index] !== expected) {
      failures.push(`ring allReduce index ${index}: ${large[index]} != ${expected}`);
      break;
    }
  }
  emit({ rank: group.rank, engine: group.engineName, small: Array.from(small), failures, digest: digest(large) });
  await group.destroy();
}

const scenarios: Record<string, () => Promise<void>> = { collectives, faultLoop, joinOnly, strangerTarget, smallAllReduce };
const scenario = scenarios[process.env.SCENARIO ?? ''];
if (scenario === undefined) throw new Error(`unknown SCENARIO ${process.env.SCENARIO}`);
scenario().catch((error: unknown) => {
  emit({ fatal: true, code: (error as DistError).code, message: (error as Error).stack });
  process.exitCode = 1;
});
