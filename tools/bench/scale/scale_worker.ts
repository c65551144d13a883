// One workload of `npm run bench:scale` on rlhfjs, in its own process so that its peak RSS is its own. Prints one
// line `RESULT {...}`: seconds per unit of work (median over --reps after one warm-up), tokens/s for generation,
// and the peak RSS of this process.
//
//   node --import tsx tools/bench/scale/scale_worker.ts --dir <checkpoint> --row forward|gen1|gen8|lora|full|fullckpt [--reps 2]
import * as tf from '@tensorflow/tfjs';
import { AdamW, enableGradientCheckpointing, generate, initBackend, loadCausalLM, sequenceLogProbs, variableGradsReleasing, type CausalLM } from '@rlhfjs/core';
import { applyLora } from '@rlhfjs/lora';

import { SCALE_ROWS, workloadShape, type ScaleRow } from './scale_rows';

interface WorkerOptions {
  readonly dir: string;
  readonly row: ScaleRow;
  readonly reps: number;
  readonly loraTargets: string[];
  readonly backend: string | undefined;
}

function parseOptions(argv: readonly string[]): WorkerOptions {
  let dir = '';
  let row = '';
  let reps = 2;
  let loraTargets: string[] = [];
  let backend: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    const value = argv[i + 1] ?? '';
    i++;
    if (argument === '--dir') dir = value;
    else if (argument === '--row') row = value;
    else if (argument === '--reps') reps = Number(value);
    else if (argument === '--lora-targets') loraTargets = value.split(',');
    else if (argument === '--backend') backend = value;
    else throw new Error(`scale_worker: unknown argument ${argument}`);
  }
  if (!(SCALE_ROWS as readonly string[]).includes(row)) throw new Error(`scale_worker: --row must be one of ${SCALE_ROWS.join(', ')}, got "${row}"`);
  return { dir, row: row as ScaleRow, reps, loraTargets, backend };
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((p, q) => p - q);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Deterministic token ids in [1, vocab) (the same formula as torch_worker.py). */
function tokenRows(batch: number, length: number, vocab: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length }, (_, t) => 1 + ((b * 7919 + t * 104729 + 17) % (vocab - 1))));
}

function timeSeconds(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// The backward pass of core's trainStep (variableGradsReleasing: saved activations and intermediate gradients freed
// node by node), so the step's time and peak RSS are those a trainer gets.
function trainingStep(model: CausalLM, optimizer: AdamW, ids: tf.Tensor2D): () => void {
  const params = model.trainableParameters();
  const variables = [...params.values()];
  return () => {
    const { value, grads } = variableGradsReleasing(() => tf.neg(tf.mean(sequenceLogProbs(model, { inputIds: ids }))) as tf.Scalar, variables);
    const named: tf.NamedTensorMap = {};
    for (const [name, variable] of params) if (grads[variable.name] !== undefined) named[name] = grads[variable.name] as tf.Tensor;
    optimizer.step(params, named, 1e-4);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const backend = await initBackend(options.backend === undefined ? {} : { backend: options.backend });
  const model = await loadCausalLM(options.dir);
  const vocab = model.config.vocabSize;
  const shape = workloadShape(options.row);
  const samples: number[] = [];
  let work: () => void;
  let cleanup: () => void = () => undefined;
  let warmUp: (() => void) | null = null;
  switch (options.row) {
    case 'forward': {
      const ids = tf.tensor2d(tokenRows(shape.batch, shape.length, vocab), undefined, 'int32'); // [B, T]
      work = () => tf.tidy(() => void (model.forward({ inputIds: ids, logits: 'all' }).logits as tf.Tensor3D).dataSync());
      cleanup = () => ids.dispose();
      break;
    }
    case 'gen1':
    case 'gen8': {
      const prompts = { inputIds: tokenRows(shape.batch, shape.length, vocab) };
      work = () => void generate(model, prompts, { maxNewTokens: shape.newTokens, doSample: false, stopTokenIds: [] });
      warmUp = () => void generate(model, prompts, { maxNewTokens: 4, doSample: false, stopTokenIds: [] });
      break;
    }
    case 'lora':
    case 'full':
    case 'fullckpt': {
      if (options.row === 'lora') applyLora(model, { r: 16, alpha: 32, targetModules: options.loraTargets });
      if (options.row === 'fullckpt') enableGradientCheckpointing(model); // per block, as SFT/DPO/reward/PPO/GRPO's gradientCheckpointing
      const ids = tf.tensor2d(tokenRows(shape.batch, shape.length, vocab), undefined, 'int32'); // [B, T]
      const optimizer = new AdamW({ weightDecay: 0.01 });
      work = trainingStep(model, optimizer, ids);
      cleanup = () => {
        ids.dispose();
        optimizer.dispose();
      };
      break;
    }
    default: {
      const unreachable: never = options.row;
      throw new Error(`scale_worker: unknown row ${String(unreachable)}`);
    }
  }
  const tensorsBefore = tf.memory().numTensors;
  (warmUp ?? work)(); // warm-up (a short generation for the generation rows)
  for (let i = 0; i < options.reps; i++) samples.push(timeSeconds(work));
  const leaked = tf.memory().numTensors - tensorsBefore;
  cleanup();
  model.dispose();
  const seconds = median(samples);
  const tokensPerSecond = shape.newTokens > 0 ? (shape.batch * shape.newTokens) / seconds : null;
  const result = { side: 'rlhfjs', backend, row: options.row, seconds, samples, tokensPerSecond, peakRssBytes: process.resourceUsage().maxRSS * 1024, leakedTensors: leaked };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
