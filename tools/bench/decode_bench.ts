// Decoding benchmark of the 3M reference config alone (no forward/step/SFT rows): rlhfjs generation with the fused
// decode-step kernels, the same without them (portable ops on the same backend), and PyTorch's HF-generate-like
// loop (tools/bench/scale/torch_worker.py), alternating in one run, 3 rounds, medians and ratios.
// Usage: npx tsx tools/bench/decode_bench.ts [backend]   (default native)
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createCausalLM, generate, initBackend, saveCausalLM } from '@rlhfjs/core';
import { PYTHON, torchAvailable, torchEnvironment } from './scale/torch_env';

const REFERENCE = { modelType: 'gpt2' as const, vocabSize: 1024, hiddenSize: 256, numLayers: 4, numHeads: 4, maxPositions: 256 };
const PROMPT = 16;
const NEW_TOKENS = 112;
const ROUNDS = 3;
const FUSED_KERNELS = ['RlhfjsGpt2DecodeStep', 'RlhfjsGpt2DecodeBlock'];

function prompts(batch: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: PROMPT }, (__, t) => (b * 31 + t * 7) % REFERENCE.vocabSize));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function main(): Promise<void> {
  const backend = process.argv[2] ?? 'native';
  await initBackend({ backend });
  const model = createCausalLM(REFERENCE, { seed: 0 });
  const directory = mkdtempSync(path.join(tmpdir(), 'rlhfjs-decode-bench-'));
  const haveTorch = torchAvailable();
  if (haveTorch) await saveCausalLM(model, directory);
  const saved = FUSED_KERNELS.map((name) => tf.getKernel(name, tf.getBackend())).filter((config) => config !== undefined);
  const setFused = (on: boolean): void => {
    for (const config of saved) {
      const registered = tf.getKernel(config.kernelName, config.backendName) !== undefined;
      if (on && !registered) tf.registerKernel(config);
      if (!on && registered) tf.unregisterKernel(config.kernelName, config.backendName);
    }
  };
  const rate = (batch: number): number => {
    const start = performance.now();
    generate(model, { inputIds: prompts(batch) }, { maxNewTokens: NEW_TOKENS, doSample: true, seed: 0, stopTokenIds: [] });
    return (batch * NEW_TOKENS) / ((performance.now() - start) / 1000);
  };
  const torchRate = (batch: number): number | null => {
    if (!haveTorch) return null;
    const args = ['tools/bench/scale/torch_worker.py', '--dir', directory, '--row', batch === 1 ? 'gen1' : 'gen8', '--batch', String(batch), '--length', String(PROMPT),
      '--new-tokens', String(NEW_TOKENS), '--reps', '1', '--sample'];
    const child = spawnSync(PYTHON, args, { cwd: path.join(__dirname, '..', '..'), env: torchEnvironment(), encoding: 'utf8', timeout: 10 * 60 * 1000 });
    const line = (child.stdout ?? '').split('\n').find((text) => text.startsWith('RESULT '));
    return line === undefined ? null : (JSON.parse(line.slice('RESULT '.length)) as { tokensPerSecond: number }).tokensPerSecond;
  };
  try {
    generate(model, { inputIds: prompts(8) }, { maxNewTokens: 4, doSample: true, seed: 0, stopTokenIds: [] }); // warm-up
    for (const batch of [1, 8]) {
      const fused: number[] = [];
      const portable: number[] = [];
      const torch: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        setFused(true);
        fused.push(rate(batch));
        setFused(false);
        portable.push(rate(batch));
        setFused(true);
        const t = torchRate(batch);
        if (t !== null) torch.push(t);
      }
      const torchText = torch.length === 0 ? 'torch: n/a' : `torch ${median(torch).toFixed(0)} tok/s; fused/torch ${(median(fused) / median(torch)).toFixed(2)}×, portable/torch ${(median(portable) / median(torch)).toFixed(2)}×`;
      console.log(`[bench decode] backend=${tf.getBackend()} b${batch}: fused ${median(fused).toFixed(0)} tok/s, portable ${median(portable).toFixed(0)} tok/s; ${torchText}`);
    }
  } finally {
    model.dispose();
    rmSync(directory, { recursive: true, force: true });
  }
}

void main();
