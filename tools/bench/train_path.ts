// Profiling harness for the training path at real sizes (GPT-2 124M shape, random init): forward b×T, a LoRA
// (q,v) AdamW step and a full AdamW step, with peak RSS. `--baseline` rebuilds the pre-optimisation path in this
// same code base so both can be timed alternately in one run (the machine is shared; only same-run ratios count):
// the old log-softmax + one-hot target log-probs, a copied transpose of the tied embedding, frozen weights that
// still get (discarded) gradients; run it with OPENBLAS_CORETYPE=Prescott for the old GEMM kernels.
//   npx tsx tools/bench/train_path.ts --work lora [--baseline] [--batch 2] [--seq 128] [--steps 2] [--layers 12]
import * as tf from '@tensorflow/tfjs';
import { AdamW, createCausalLM, initBackend, matMul2d, trainStep, tokenLogProbsFromLogits, type CausalLM } from '@rlhfjs/core';
import { applyLora } from '@rlhfjs/lora';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] as string) : fallback;
}

const work = flag('work', 'forward');
const baseline = process.argv.includes('--baseline');
const batch = Number(flag('batch', '2'));
const seq = Number(flag('seq', '128'));
const steps = Number(flag('steps', '2'));
const layers = Number(flag('layers', '12'));

/** The target log-probs as they were: shifted slice, one-hot, multiply, logSumExp. */
function oldTokenLogProbs(logits: tf.Tensor3D, inputIds: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, length, vocab] = logits.shape;
    const predicting = tf.slice(logits, [0, 0, 0], [b, length - 1, vocab]); // [B, T−1, V]
    const targets = tf.slice(inputIds, [0, 1], [b, length - 1]); // [B, T−1]
    const targetLogits = tf.sum(tf.mul(predicting, tf.oneHot(tf.cast(targets, 'int32'), vocab)), -1); // [B, T−1]
    return tf.sub(targetLogits, tf.logSumExp(predicting, -1)) as tf.Tensor2D;
  });
}

function useOldLmHead(model: CausalLM): void {
  model.lmHead = (hidden: tf.Tensor3D): tf.Tensor3D => tf.tidy(() => {
    const [b, length, width] = hidden.shape;
    const flat = tf.reshape(hidden, [b * length, width]) as tf.Tensor2D; // [B·T, D]
    const embedding = model.namedParameters().get('transformer.wte.weight') as tf.Variable;
    return tf.reshape(matMul2d(flat, tf.transpose(embedding) as tf.Tensor2D), [b, length, model.config.vocabSize]) as tf.Tensor3D;
  });
}

async function main(): Promise<void> {
  await initBackend({ backend: 'native' });
  const model = createCausalLM({ modelType: 'gpt2', vocabSize: 50257, hiddenSize: 768, numLayers: layers, numHeads: 12, maxPositions: 1024, tieWordEmbeddings: true });
  if (baseline) useOldLmHead(model);
  const ids = tf.tensor2d(Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, t) => (b * 7919 + t * 104729) % 50257)), [batch, seq], 'int32');
  const score = baseline ? oldTokenLogProbs : tokenLogProbsFromLogits;
  const lossFn = () => ({ loss: tf.tidy(() => tf.neg(tf.mean(score(model.forward({ inputIds: ids }).logits as tf.Tensor3D, ids))) as tf.Scalar) });
  let parameters = model.trainableParameters();
  if (work === 'lora') {
    applyLora(model, { r: 16, alpha: 32, targetModules: ['c_attn'] });
    parameters = model.trainableParameters();
    // the old code computed (and dropped) gradients of frozen weights: same as treating them as trainable here
    if (baseline) for (const variable of model.namedParameters().values()) variable.trainable = true;
  }
  const optimizer = new AdamW({ weightDecay: 0.01 });
  const times: number[] = [];
  for (let step = 0; step < steps + 1; step++) {
    const start = performance.now();
    if (work === 'forward') {
      tf.tidy(() => { model.forward({ inputIds: tf.slice(ids, [0, 0], [1, seq]) as tf.Tensor2D }).logits?.dataSync(); });
    } else {
      await trainStep({ lossFns: [lossFn], parameters, optimizer, learningRate: 1e-5 });
    }
    if (step > 0) times.push((performance.now() - start) / 1000); // the first call warms up
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] as number;
  console.log(JSON.stringify({
    work, baseline, batch, seq, layers, coretype: process.env['OPENBLAS_CORETYPE'] ?? null, trainable: parameters.size,
    seconds: Number(median.toFixed(3)), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), tensors: tf.memory().numTensors,
  }));
}

void main();
