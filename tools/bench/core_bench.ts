// Core benchmark: forward, forward+backward, generation and SFT throughput of the reference config
// (GPT-2 family, 4 layers, d_model 256, 4 heads, vocab 1024, seq 128, batch 8) on each backend given
// (default: wasm and cpu). Usage: npx tsx tools/bench/core_bench.ts [backend ...]
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, SFTTrainer, Tokenizer, createCausalLM, generate, initBackend, parseRecord, saveCausalLM, sequenceLogProbs, trainByteLevelBpe, type SftRecord } from '@rlhfjs/core';
import { PYTHON, describeTorch, torchAvailable, torchEnvironment } from './scale/torch_env';

const REFERENCE = { modelType: 'gpt2' as const, vocabSize: 1024, hiddenSize: 256, numLayers: 4, numHeads: 4, maxPositions: 256 };
const BATCH = 8;
const SEQ = 128;
const PROMPT = 16;
/** Generation figures of the fast (non-cpu) backends, tokens/s, for the comparison with PyTorch. */
const generation: Array<{ backend: string; batch: number; tokensPerSecond: number }> = [];

function promptRows(batch: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: PROMPT }, (_, t) => (b * 31 + t * 7) % REFERENCE.vocabSize));
}

function time<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const result = fn();
  return [result, performance.now() - start];
}

async function benchBackend(backend: string): Promise<void> {
  const active = await initBackend({ backend });
  const slow = active === 'cpu';
  const model = createCausalLM(REFERENCE, { seed: 0 });
  const ids = tf.tidy(() => tf.cast(tf.floor(tf.mul(tf.randomUniform([BATCH, SEQ], 0, 1, 'float32', 1), REFERENCE.vocabSize - 1)), 'int32')) as tf.Tensor2D;
  const forward = () => tf.tidy(() => sequenceLogProbs(model, { inputIds: ids }).dataSync());
  forward(); // warm-up
  const forwardRuns = slow ? 1 : 3;
  let forwardMs = 0;
  for (let i = 0; i < forwardRuns; i++) forwardMs += time(forward)[1];
  const optimizer = new AdamW({ weightDecay: 0 });
  const params = model.trainableParameters();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(sequenceLogProbs(model, { inputIds: ids }))) as tf.Scalar, [...params.values()]);
    const named: tf.NamedTensorMap = {};
    for (const [name, variable] of params) if (grads[variable.name] !== undefined) named[name] = grads[variable.name] as tf.Tensor;
    optimizer.step(params, named, 1e-4);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  if (!slow) step();
  const stepRuns = slow ? 1 : 3;
  let stepMs = 0;
  for (let i = 0; i < stepRuns; i++) stepMs += time(step)[1];
  const newTokens = slow ? 16 : 112;
  generate(model, { inputIds: promptRows(BATCH) }, { maxNewTokens: 4, doSample: true, seed: 0, stopTokenIds: [] }); // warm-up
  const [, generateMs] = time(() => generate(model, { inputIds: promptRows(BATCH) }, { maxNewTokens: newTokens, doSample: true, seed: 0, stopTokenIds: [] }));
  const [, generateOneMs] = time(() => generate(model, { inputIds: promptRows(1) }, { maxNewTokens: newTokens, doSample: true, seed: 0, stopTokenIds: [] }));
  const batchRate = (BATCH * newTokens) / (generateMs / 1000);
  const oneRate = newTokens / (generateOneMs / 1000);
  if (!slow) generation.push({ backend: active, batch: BATCH, tokensPerSecond: batchRate }, { backend: active, batch: 1, tokensPerSecond: oneRate });
  console.log(
    `[bench core] backend=${active} forward=${(forwardMs / forwardRuns).toFixed(0)} ms  forward+backward+AdamW=${(stepMs / stepRuns).toFixed(0)} ms  ` +
      `generate=${batchRate.toFixed(1)} tokens/s (batch ${BATCH}), ${oneRate.toFixed(1)} tokens/s (batch 1) (${PROMPT}-token prompt, ${newTokens} new, sampled)`,
  );
  // SFT tokens/s: the SFTTrainer on synthetic text of ~SEQ tokens per example
  const texts = Array.from({ length: 64 }, (_, i) => Array.from({ length: 40 }, (_, j) => `w${(i * 13 + j * 7) % 97}`).join(' '));
  const tokenizer = new Tokenizer(trainByteLevelBpe(texts, { vocabSize: 600 }), { eos_token: '<|endoftext|>' });
  const records = texts.map((text) => parseRecord({ text }));
  const trainer = new SFTTrainer({ model, tokenizer, trainDataset: records as SftRecord[] }, { maxSteps: slow ? 1 : 3, batchSize: BATCH, maxLength: SEQ, progress: false });
  const result = await trainer.train();
  const tokensPerSecond = result.history.reduce((s, r) => s + (r['tokensPerSecond'] as number), 0) / result.history.length;
  console.log(`[bench core] backend=${active} SFT training ${tokensPerSecond.toFixed(0)} tokens/s (batch ${BATCH}, up to ${SEQ} tokens)`);
  trainer.dispose();
  ids.dispose();
  optimizer.dispose();
  model.dispose();
}

/**
 * The same generation in plain PyTorch (tools/bench/scale/torch_worker.py: an HF-generate-like loop, prefill then
 * one token a step with a torch.cat-grown KV cache, sampling from the softmax) on the same reference model,
 * saved by us and loaded by the script, in this run. Prints tokens/s and the ratio to each backend measured here.
 */
async function benchTorchGeneration(): Promise<void> {
  if (!torchAvailable()) {
    console.log(`[bench core] torch: not importable by ${PYTHON} (apt-get install -y python3-torch); no comparison`);
    return;
  }
  const directory = mkdtempSync(path.join(tmpdir(), 'rlhfjs-core-bench-'));
  try {
    await initBackend({ backend: 'cpu' });
    const model = createCausalLM(REFERENCE, { seed: 0 });
    await saveCausalLM(model, directory);
    model.dispose();
    console.log(`[bench core] ${describeTorch()}`);
    for (const batch of [BATCH, 1]) {
      const args = ['tools/bench/scale/torch_worker.py', '--dir', directory, '--row', batch === 1 ? 'gen1' : 'gen8', '--batch', String(batch), '--length', String(PROMPT),
        '--new-tokens', '112', '--reps', '1', '--sample'];
      const child = spawnSync(PYTHON, args, { cwd: path.join(__dirname, '..', '..'), env: torchEnvironment(), encoding: 'utf8', timeout: 10 * 60 * 1000 });
      const line = (child.stdout ?? '').split('\n').find((text) => text.startsWith('RESULT '));
      if (line === undefined) {
        console.log(`[bench core] torch generate batch ${batch} failed: ${(child.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`);
        continue;
      }
      const torchRate = (JSON.parse(line.slice('RESULT '.length)) as { tokensPerSecond: number }).tokensPerSecond;
      const ratios = generation.filter((g) => g.batch === batch).map((g) => `${g.backend} ${(g.tokensPerSecond / torchRate).toFixed(2)}× torch's speed`);
      console.log(`[bench core] torch generate=${torchRate.toFixed(1)} tokens/s (batch ${batch}, ${PROMPT}-token prompt, 112 new, sampled)  ${ratios.join(', ')}`);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const backends = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['wasm', 'cpu'];
  for (const backend of backends) {
    try {
      await benchBackend(backend);
    } catch (error) {
      console.log(`[bench core] backend=${backend} failed: ${(error as Error).message}`);
    }
  }
  await benchTorchGeneration();
}

void main();
