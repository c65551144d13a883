// Forward time and tensor memory of the reference config (GPT-2, 4 layers, d_model 256, 4 heads, vocab 1024,
// batch 8 × seq 128, logits at every position) in float32 and after `quantizeModel(model, {quantType: 'nf4'})`
// (every linear layer but the LM head in 4 bits, blocks of 64; embeddings and LM head stay float32). One warm-up
// forward, then the timed ones, each read back to the host. The backend is the fastest installed (`initBackend`;
// `RLHFJS_BACKEND=<name>` forces one).
//
// Memory: the lines print the growth of `tf.memory().numBytes` over the bench's start and, beside it, the bytes the
// model's own tensors hold. numBytes counts bytes per tensor handle, not per buffer; where a model's construction
// leaves extra handles on its weight buffers, numBytes counts those bytes twice and the buffers outlive the variables.
//
//   npx tsx packages/lora/bench/quant_bench.ts [--forwards 3]
import * as tf from '@tensorflow/tfjs';
import { createCausalLM, initBackend, type CausalLM } from '@rlhfjs/core';
import { quantizeModel } from '../src/index';

const BATCH = 8;
const SEQUENCE = 128;
const VOCAB_SIZE = 1024;

/** Seconds of each of `count` timed forwards after one warm-up; also returns the last logits (host copy). */
function timeForwards(model: CausalLM, inputIds: tf.Tensor2D, count: number): { seconds: number[]; logits: Float32Array } {
  const forward = (): Float32Array => {
    const logits = tf.tidy(() => model.forward({ inputIds, logits: 'all' }).logits as tf.Tensor3D); // [B, T, V]
    try {
      return logits.dataSync() as Float32Array;
    } finally {
      logits.dispose();
    }
  };
  let logits = forward();
  const seconds: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const start = performance.now();
    logits = forward();
    seconds.push((performance.now() - start) / 1000);
  }
  return { seconds, logits };
}

/** Bytes of the model's float32 parameters (the 4-bit layers' codes and absmax state are not among them). */
function parameterBytes(model: CausalLM): number {
  let bytes = 0;
  for (const variable of model.namedParameters().values()) bytes += variable.size * 4;
  return bytes;
}

const megabytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const summary = (seconds: number[]): string => `${seconds.map((s) => s.toFixed(3)).join(', ')} s (mean ${(seconds.reduce((a, b) => a + b, 0) / seconds.length).toFixed(3)} s)`;

async function main(): Promise<void> {
  const forwardsArgument = process.argv.indexOf('--forwards');
  const count = forwardsArgument >= 0 ? Number(process.argv[forwardsArgument + 1]) : 3;
  const backend = await initBackend();
  console.log(`backend ${backend} (${tf.getBackend()}); gpt2 4×256, 4 heads, vocab ${VOCAB_SIZE}; forward of [${BATCH}, ${SEQUENCE}] with logits at every position; ${count} timed forwards after 1 warm-up`);
  const ids = Int32Array.from({ length: BATCH * SEQUENCE }, (_, index) => (index * 7919 + 13) % VOCAB_SIZE);
  const inputIds = tf.tensor2d(ids, [BATCH, SEQUENCE], 'int32');
  const baseline = tf.memory().numBytes;
  const model = createCausalLM({ modelType: 'gpt2', vocabSize: VOCAB_SIZE, hiddenSize: 256, numLayers: 4, numHeads: 4, maxPositions: SEQUENCE }, { seed: 0 });
  const float32Bytes = tf.memory().numBytes - baseline;
  const float32 = timeForwards(model, inputIds, count);
  const float32Held = parameterBytes(model);
  console.log(`float32: tf.memory().numBytes +${megabytes(float32Bytes)} (parameters ${megabytes(float32Held)}); forward ${summary(float32.seconds)}`);

  const quantizeStart = performance.now();
  const result = quantizeModel(model, { quantType: 'nf4' });
  const quantizeSeconds = (performance.now() - quantizeStart) / 1000;
  const nf4Bytes = tf.memory().numBytes - baseline;
  const nf4 = timeForwards(model, inputIds, count);
  let maxDifference = 0;
  for (let index = 0; index < nf4.logits.length; index += 1) maxDifference = Math.max(maxDifference, Math.abs((nf4.logits[index] as number) - (float32.logits[index] as number)));
  const nf4Held = parameterBytes(model) + result.quantizedWeightBytes;
  console.log(`nf4: tf.memory().numBytes +${megabytes(nf4Bytes)} (float32 parameters + 4-bit state ${megabytes(nf4Held)}); forward ${summary(nf4.seconds)}`);
  console.log(`quantizeModel: ${result.modules.length} modules in ${quantizeSeconds.toFixed(3)} s, their weights ${megabytes(result.float32WeightBytes)} → ${megabytes(result.quantizedWeightBytes)}; model ${(float32Held / nf4Held).toFixed(2)}× smaller; nf4/float32 forward time ${(nf4.seconds.reduce((a, b) => a + b, 0) / float32.seconds.reduce((a, b) => a + b, 0)).toFixed(2)}×; max |Δlogit| ${maxDifference.toFixed(4)}`);
  model.dispose();
  inputIds.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
