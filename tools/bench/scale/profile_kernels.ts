// Per-kernel time of one forward or one training step at a bench:scale shape (tf.profile; figures only).
//   node --import tsx tools/bench/scale/profile_kernels.ts --dir /tmp/rlhfjs-bench-scale/gpt2 --row forward|lora|full
import * as tf from '@tensorflow/tfjs';
import { AdamW, initBackend, loadCausalLM, sequenceLogProbs, variableGradsReleasing } from '@rlhfjs/core';
import { applyLora } from '@rlhfjs/lora';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dir = args[args.indexOf('--dir') + 1] ?? '';
  const row = args[args.indexOf('--row') + 1] ?? 'forward';
  const batch = row === 'forward' ? 1 : 4;
  await initBackend({});
  const model = await loadCausalLM(dir);
  const vocab = model.config.vocabSize;
  const ids = tf.tensor2d(Array.from({ length: batch }, (_, b) => Array.from({ length: 128 }, (_, t) => 1 + ((b * 7919 + t * 104729 + 17) % (vocab - 1)))), undefined, 'int32');
  if (row === 'lora') applyLora(model, { r: 16, alpha: 32, targetModules: model.config.modelType === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'] });
  const optimizer = new AdamW({ weightDecay: 0.01 });
  const params = model.trainableParameters();
  const work = (): void => {
    if (row === 'forward') {
      tf.tidy(() => void (model.forward({ inputIds: ids, logits: 'all' }).logits as tf.Tensor3D).dataSync());
      return;
    }
    const { value, grads } = variableGradsReleasing(() => tf.neg(tf.mean(sequenceLogProbs(model, { inputIds: ids }))) as tf.Scalar, [...params.values()]);
    const named: tf.NamedTensorMap = {};
    for (const [name, variable] of params) if (grads[variable.name] !== undefined) named[name] = grads[variable.name] as tf.Tensor;
    optimizer.step(params, named, 1e-4);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  work();
  const start = Date.now();
  const info = await tf.profile(work);
  const total = Date.now() - start;
  const byName = new Map<string, { ms: number; count: number }>();
  for (const kernel of info.kernels) {
    const ms = typeof kernel.kernelTimeMs === 'number' ? kernel.kernelTimeMs : 0;
    const key = `${kernel.name} ${kernel.inputShapes.map((s) => `[${s}]`).join('')}`;
    const entry = byName.get(key) ?? { ms: 0, count: 0 };
    entry.ms += ms;
    entry.count++;
    byName.set(key, entry);
  }
  const sorted = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernelTotal = sorted.reduce((sum, [, e]) => sum + e.ms, 0);
  console.log(`total ${total} ms (profiled), kernels ${kernelTotal.toFixed(0)} ms, ${info.kernels.length} kernels`);
  for (const [name, e] of sorted.slice(0, 40)) console.log(`${e.ms.toFixed(1).padStart(8)} ms ${String(e.count).padStart(4)}x ${name}`);
}
main().catch((error: unknown) => { console.error(error); process.exit(1); });
