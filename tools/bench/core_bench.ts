// Core benchmark: forward, forward+backward, generation and SFT throughput of the reference config
// (GPT-2 family, 4 layers, d_model 256, 4 heads, vocab 1024, seq 128, batch 8) on each backend given
// (default: wasm and cpu). Usage: npx tsx tools/bench/core_bench.ts [backend ...]
import * as tf from '@tensorflow/tfjs';
import { AdamW, SFTTrainer, Tokenizer, createCausalLM, generate, initBackend, parseRecord, sequenceLogProbs, trainByteLevelBpe, type SftRecord } from '@rlhfjs/core';

const REFERENCE = { modelType: 'gpt2' as const, vocabSize: 1024, hiddenSize: 256, numLayers: 4, numHeads: 4, maxPositions: 256 };
const BATCH = 8;
const SEQ = 128;

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
  const prompts = { inputIds: Array.from({ length: BATCH }, (_, b) => Array.from({ length: 16 }, (_, t) => (b * 31 + t * 7) % REFERENCE.vocabSize)) };
  const newTokens = slow ? 16 : 112;
  const [, generateMs] = time(() => generate(model, prompts, { maxNewTokens: newTokens, doSample: true, seed: 0, stopTokenIds: [] }));
  console.log(
    `[bench core] backend=${active} forward=${(forwardMs / forwardRuns).toFixed(0)} ms  forward+backward+AdamW=${(stepMs / stepRuns).toFixed(0)} ms  ` +
      `generate=${((BATCH * newTokens) / (generateMs / 1000)).toFixed(1)} tokens/s (batch ${BATCH}, 16-token prompt, ${newTokens} new)`,
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

async function main(): Promise<void> {
  const backends = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['wasm', 'cpu'];
  for (const backend of backends) {
    try {
      await benchBackend(backend);
    } catch (error) {
      console.log(`[bench core] backend=${backend} failed: ${(error as Error).message}`);
    }
  }
}

void main();
