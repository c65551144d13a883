// Data-parallel equivalence over real processes on 127.0.0.1: 2 ranks × batch 4 through DistributedReducer must
// train exactly like 1 process × batch 8 (SFT with token aggregation, DPO), and PPO's whitening over 2 ranks
// must equal whitening the concatenated batch. One set of processes (2 ranks and a worldSize-1 reference, side by
// side) runs every scenario in beforeAll, so process start-up is paid once; the tests then check the results.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors } from '@rlhfjs/core';
import { maskedWhiten } from '@rlhfjs/ppo';
import { freePort, rankEnv, Worker } from '../helpers';
import { GLOBAL_BATCH, STEPS, whitenBatch } from '../workers/ddp_batches';

const DDP_WORKER = path.join(__dirname, '..', 'workers', 'ddp_worker.ts');
const TOLERANCE = 1e-5;
const WAIT_MS = 70_000;
const SCENARIOS = ['whiten', 'sft', 'dpo'] as const;

type Result = Record<string, unknown>;
interface HistoryEntry {
  loss: number;
  gradNorm: number;
}

/**
 * Runs `scenarios` on 2 ranks and, at the same time, on a third process with worldSize 1 (the reference), and
 * returns each process's results by scenario; every child is killed when this returns or throws.
 */
async function runScenarios(scenarios: readonly string[], outputDir: string): Promise<Array<Map<string, Result>>> {
  await fs.mkdir(path.join(outputDir, 'single'), { recursive: true });
  const port = await freePort();
  const workers: Worker[] = [];
  try {
    for (let rank = 0; rank < 2; rank += 1) {
      workers.push(new Worker(rankEnv(rank, 2, port, { SCENARIOS: scenarios.join(','), OUTPUT_DIR: outputDir, RLHFJS_DIST_SECRET: `ddp-${port}` }), DDP_WORKER));
    }
    workers.push(new Worker({ SINGLE: '1', SCENARIOS: scenarios.join(','), OUTPUT_DIR: path.join(outputDir, 'single') }, DDP_WORKER));
    const last = scenarios[scenarios.length - 1];
    await Promise.all(workers.map((worker) => worker.waitFor((result) => result.scenario === last || 'fatal' in result, WAIT_MS)));
    return workers.map((worker) => {
      const fatal = worker.results.find((result) => 'fatal' in result);
      if (fatal !== undefined) throw new Error(`worker failed: ${String(fatal.message)}\nstderr:\n${worker.stderr.slice(-2000)}`);
      return new Map(worker.results.map((result) => [String(result.scenario), result]));
    });
  } finally {
    workers.forEach((worker) => worker.kill());
  }
}

async function readParameters(file: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(file);
  return new Map([...tensors].map(([name, entry]) => [name, entry.data as Float32Array]));
}

/**
 * GPT-2's fused `attn.c_attn.bias` is [q | k | v]. The key bias adds q_i·b_k to every score of query i, which
 * softmax cancels, so its true gradient is exactly 0 and what reaches it is float rounding noise; AdamW divides
 * that noise by its own running RMS (+ eps) and turns it into updates that differ between any two summation
 * orders, even between 1 × 8 and gradient accumulation 2 × 4 in one process (measured 4e-5 after 3 DPO steps).
 * Those coordinates are compared separately, against a bound well below the learning rate.
 */
function isKeyBias(name: string, index: number, size: number): boolean {
  return name.endsWith('.attn.c_attn.bias') && index >= size / 3 && index < (2 * size) / 3;
}

/** Largest |a − b| over the gradient-carrying coordinates and over the key-bias coordinates. */
function maxAbsDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { parameters: number; keyBias: number } {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  const largest = { parameters: 0, keyBias: 0 };
  for (const [name, values] of a) {
    const other = b.get(name) as Float32Array;
    expect(other).toHaveLength(values.length);
    for (let index = 0; index < values.length; index += 1) {
      const difference = Math.abs((values[index] as number) - (other[index] as number));
      const key = isKeyBias(name, index, values.length) ? 'keyBias' : 'parameters';
      largest[key] = Math.max(largest[key], difference);
    }
  }
  return largest;
}

/** Measured differences, printed once at the end so a run shows how close the equivalence is. */
const measured: Record<string, number> = {};

/** The trainer-level checks shared by SFT and DPO. */
async function expectTrainingEquivalence(name: string, outputDir: string, results: Array<Map<string, Result>>): Promise<void> {
  const [rank0, rank1, single] = results.map((byScenario) => byScenario.get(name) as Result) as [Result, Result, Result];
  const parameters0 = await readParameters(path.join(outputDir, `${name}_rank0.safetensors`));
  const parameters1 = await readParameters(path.join(outputDir, `${name}_rank1.safetensors`));
  const reference = await readParameters(path.join(outputDir, 'single', `${name}_rank0.safetensors`));
  // DDP keeps replicas identical: every rank applies the same averaged gradients to the same broadcast weights.
  expect(maxAbsDifference(parameters0, parameters1)).toEqual({ parameters: 0, keyBias: 0 });
  const difference = maxAbsDifference(parameters0, reference);
  measured[`${name} max |θ(2×${GLOBAL_BATCH / 2}) − θ(1×${GLOBAL_BATCH})|`] = difference.parameters;
  measured[`${name} same, attention key bias (zero true gradient)`] = difference.keyBias;
  expect(difference.parameters).toBeLessThan(TOLERANCE);
  expect(difference.keyBias).toBeLessThan(1e-3);
  // Not vacuous: training moved the weights by far more than the tolerance.
  expect(single.moved as number).toBeGreaterThan(1e-2);
  // The ranks saw different examples with different unit counts, which sum to the single process's counts.
  const counts0 = rank0.localCounts as number[][];
  const counts1 = rank1.localCounts as number[][];
  const counts = single.localCounts as number[][];
  expect(counts).toHaveLength(STEPS);
  expect(counts0.map((entry, step) => entry.map((value, index) => value + (counts1[step]?.[index] as number)))).toEqual(counts);
  expect(counts0.some((entry, step) => entry[0] !== counts1[step]?.[0])).toBe(true);
  // The logged global loss and the gradient norm after the all-reduce match step by step (a summed instead of
  // averaged gradient would double the norm; Adam alone would hide that in the weights).
  const history = single.history as HistoryEntry[];
  for (const ranked of [rank0.history, rank1.history] as HistoryEntry[][]) {
    expect(ranked).toHaveLength(STEPS);
    ranked.forEach((entry, step) => {
      expect(Math.abs(entry.loss - (history[step] as HistoryEntry).loss)).toBeLessThan(TOLERANCE);
      expect(Math.abs(entry.gradNorm - (history[step] as HistoryEntry).gradNorm)).toBeLessThan(TOLERANCE);
    });
  }
}

describe('data-parallel equivalence across real processes (2 ranks × batch 4 = 1 process × batch 8)', () => {
  let directory: string;
  let results: Array<Map<string, Result>>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-ddp-'));
    results = await runScenarios(SCENARIOS, directory);
  }, WAIT_MS + 5_000);
  afterAll(async () => {
    await fs.rm(directory, { recursive: true, force: true });
    if (Object.keys(measured).length > 0) console.log(Object.entries(measured).map(([key, value]) => `${key}: ${value.toExponential(2)}`).join('\n'));
  });

  it('SFT (token aggregation, unequal lengths): same parameters, losses and gradient norms after 3 steps', async () => {
    await expectTrainingEquivalence('sft', directory, results);
  }, 10_000);

  it('DPO (frozen reference): same parameters, losses and gradient norms after 3 steps', async () => {
    await expectTrainingEquivalence('dpo', directory, results);
  }, 10_000);

  it("PPO's maskedWhiten with a DistributedReducer equals whitening the concatenated batch", async () => {
    const ranks = results.slice(0, 2).map((byScenario) => byScenario.get('whiten') as Result);
    const { values, mask } = whitenBatch();
    const valuesTensor = tf.tensor2d(values);
    const maskTensor = tf.tensor2d(mask);
    const halfValues = tf.tensor2d(values.slice(0, GLOBAL_BATCH / 2));
    const halfMask = tf.tensor2d(mask.slice(0, GLOBAL_BATCH / 2));
    const tensors = [valuesTensor, maskTensor, halfValues, halfMask];
    try {
      for (const [key, shiftMean] of [['whitened', true], ['unshifted', false]] as const) {
        const whole = await maskedWhiten(valuesTensor, maskTensor, { shiftMean });
        const localOnly = await maskedWhiten(halfValues, halfMask, { shiftMean });
        tensors.push(whole, localOnly);
        const expected = whole.arraySync();
        const gathered = ranks.flatMap((result) => result[key] as number[][]);
        expect(gathered).toHaveLength(GLOBAL_BATCH);
        let difference = 0;
        gathered.forEach((row, b) => row.forEach((entry, t) => (difference = Math.max(difference, Math.abs(entry - (expected[b]?.[t] as number))))));
        measured[`whiten (shiftMean ${shiftMean}) max difference`] = difference;
        expect(difference).toBeLessThan(1e-6);
        // Not vacuous: whitening rank 0's half alone gives clearly different numbers.
        const local = localOnly.arraySync();
        const localDifference = Math.max(...local.flatMap((row, b) => row.map((entry, t) => Math.abs(entry - (expected[b]?.[t] as number)))));
        expect(localDifference).toBeGreaterThan(0.1);
      }
    } finally {
      tf.dispose(tensors);
    }
  }, 10_000);
});
