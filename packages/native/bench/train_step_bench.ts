// One training step (forward, backward, Adam) of a GPT-2-like reference model (4 layers, d_model 256, 4 heads,
// vocab 1024, seq 128, batch 8) on the native, wasm and cpu backends and, when Debian's python3-torch is
// installed, PyTorch on CPU in the same run.
//
//   npx tsx packages/native/bench/train_step_bench.ts [--backends native,wasm,cpu,torch] [--steps 5] [--profile]
import { execFileSync } from 'child_process';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

import { isNativeAvailable, nativeInfo } from '../src/index';
import { gptLoss, makeGptBatch, makeGptWeights, referenceShape } from '../test/gpt_model';

interface Options {
  readonly backends: string[];
  readonly steps: number;
  readonly profile: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  let backends = ['native', 'wasm', 'cpu', 'torch'];
  let steps = 5;
  let profile = false;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--backends') backends = (argv[++i] ?? '').split(',').filter((name) => name !== '');
    else if (argument === '--steps') steps = Number(argv[++i]);
    else if (argument === '--profile') profile = true;
    else throw new Error(`train_step_bench: unknown argument ${argument}`);
  }
  return { backends, steps, profile };
}

function median(samples: number[]): number {
  const sorted = samples.slice().sort((p, q) => p - q);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Seconds per step (median over `steps` after `warmup`), on a tfjs backend. */
async function timeTfjs(backendName: string, steps: number, warmup: number, profile: boolean): Promise<number> {
  if (!(await tf.setBackend(backendName))) throw new Error(`backend ${backendName} failed to initialize`);
  const weights = makeGptWeights(referenceShape);
  const { ids, targets } = makeGptBatch(referenceShape);
  const optimizer = tf.train.adam(1e-3);
  const step = (): number => {
    const embedding = backendName === 'wasm' ? 'oneHotMatMul' : 'gather'; // wasm has no UnsortedSegmentSum
    const cost = optimizer.minimize(() => gptLoss(referenceShape, weights, ids, targets, embedding), true,
      Object.values(weights));
    const loss = cost?.dataSync()[0] ?? NaN;
    cost?.dispose();
    return loss;
  };
  for (let i = 0; i < warmup; i++) step();
  const samples: number[] = [];
  let loss = NaN;
  for (let i = 0; i < steps; i++) {
    const start = process.hrtime.bigint();
    loss = step();
    samples.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  if (profile && backendName === 'native') {
    if (backendName === 'native') printAddonProfile(step);
    await printProfile(step);
  }
  console.log(`  ${backendName}: loss ${loss.toFixed(4)}, median ${median(samples).toFixed(3)} s, steps ${samples.map((s) => s.toFixed(3)).join(' ')} s, ` +
    `tensors ${tf.memory().numTensors}`);
  optimizer.dispose();
  tf.dispose([ids, targets, ...Object.values(weights)]);
  return median(samples);
}

/**
 * Time inside each native addon function (keyed by function and the sizes it was called with) over one step,
 * next to the step's total, so what remains outside C++ (JS glue, cpu-backend kernels, allocation) shows up.
 */
function printAddonProfile(step: () => number): void {
  const addon = (tf.backend() as unknown as { addon: Record<string, (...args: unknown[]) => unknown> }).addon;
  const original = { ...addon };
  const totals = new Map<string, { ms: number; calls: number }>();
  for (const [name, fn] of Object.entries(original)) {
    addon[name] = (...args: unknown[]): unknown => {
      const start = process.hrtime.bigint();
      const result = fn(...args);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const sizes = args.filter((a) => typeof a === 'number').slice(0, 4).join('x');
      const key = name === 'gemm' ? `gemm ${sizes} ${String(args[7])[0]}${String(args[8])[0]}` : `${name} ${(args[1] as { length?: number })?.length ?? ''}`;
      const entry = totals.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += ms;
      entry.calls += 1;
      totals.set(key, entry);
      return result;
    };
  }
  const start = process.hrtime.bigint();
  step();
  const stepMs = Number(process.hrtime.bigint() - start) / 1e6;
  Object.assign(addon, original);
  const rows = [...totals.entries()].sort((p, q) => q[1].ms - p[1].ms);
  const inside = rows.reduce((total, [, entry]) => total + entry.ms, 0);
  console.log(`  native addon time of one step: ${inside.toFixed(0)} ms of ${stepMs.toFixed(0)} ms; top calls:`);
  for (const [key, entry] of rows.slice(0, 25)) {
    console.log(`    ${key.padEnd(36)} ${entry.ms.toFixed(1).padStart(8)} ms  ${String(entry.calls).padStart(5)} calls`);
  }
}

/** Per-kernel wall time of one step, largest first. */
async function printProfile(step: () => number): Promise<void> {
  const totals = new Map<string, { ms: number; calls: number }>();
  const info = await tf.profile(() => {
    step();
  });
  for (const kernel of info.kernels) {
    const entry = totals.get(kernel.name) ?? { ms: 0, calls: 0 };
    entry.ms += Number(kernel.kernelTimeMs);
    entry.calls += 1;
    totals.set(kernel.name, entry);
  }
  const rows = [...totals.entries()].sort((p, q) => q[1].ms - p[1].ms);
  const sum = rows.reduce((total, [, entry]) => total + entry.ms, 0);
  console.log(`  per-kernel time of one profiled step (sum ${sum.toFixed(0)} ms):`);
  for (const [name, entry] of rows.slice(0, 20)) {
    console.log(`    ${name.padEnd(20)} ${entry.ms.toFixed(1).padStart(8)} ms  ${String(entry.calls).padStart(5)} calls`);
  }
}

/** Seconds per step of tools/bench/torch_step.py, or null when PyTorch is not installed. */
function timeTorch(steps: number): number | null {
  const python = '/usr/bin/python3';
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    console.log('  torch: skipped (/usr/bin/python3 cannot import torch; apt-get install python3-torch)');
    return null;
  }
  const script = path.resolve(__dirname, '..', '..', '..', 'tools', 'bench', 'torch_step.py');
  const output = execFileSync(python, [script, '--steps', String(steps)], { encoding: 'utf8' });
  const result = JSON.parse(output.trim().split('\n').pop() ?? '{}') as { median_step_seconds: number; loss: number;
    threads: number };
  console.log(`  torch: loss ${result.loss.toFixed(4)}, median ${result.median_step_seconds.toFixed(3)} s, threads ${result.threads}`);
  return result.median_step_seconds;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(`reference step: ${JSON.stringify(referenceShape)}, Adam; native ${JSON.stringify(nativeInfo())}`);
  const times = new Map<string, number>();
  for (const name of options.backends) {
    if (name === 'torch') {
      const seconds = timeTorch(Math.max(options.steps, 5));
      if (seconds !== null) times.set(name, seconds);
    } else if (name === 'native' && !isNativeAvailable()) {
      console.log('  native: skipped (addon not built)');
    } else {
      const slow = name === 'cpu';
      try {
        times.set(name, await timeTfjs(name, slow ? 1 : options.steps, slow ? 0 : 2, options.profile));
      } catch (error) {
        console.log(`  ${name}: failed (${error instanceof Error ? error.message : String(error)})`);
      }
    }
  }
  const torch = times.get('torch');
  console.log('\nstep time (median):');
  for (const [name, seconds] of times) {
    const ratio = torch === undefined ? '' : `  ${(seconds / torch).toFixed(2)}x PyTorch`;
    console.log(`  ${name.padEnd(7)} ${seconds.toFixed(3).padStart(8)} s${ratio}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
