// DPO training throughput (pairs/s) on the reference config: GPT-2, 4 layers, d_model 256, 4 heads, vocab 1024,
// seq 128 (64 prompt + 64 completion tokens), batch 8 pairs (a [16, 128] concatenated forward), frozen reference
// copy, sigmoid loss. One warm-up step, then 3 timed steps. The backend is the fastest installed (`initBackend`).
//
//   npx tsx packages/dpo/bench/dpo_bench.ts [--steps 3]
import * as tf from '@tensorflow/tfjs';
import { Tokenizer, createCausalLM, createRng, initBackend, trainByteLevelBpe, type PlainPreferenceRecord } from '@rlhfjs/core';
import type { TrainerTask } from '@rlhfjs/core';
import { DPOTrainer, type DpoExample } from '../src/index';

async function main(): Promise<void> {
  const stepsArgument = process.argv.indexOf('--steps');
  const timedSteps = stepsArgument >= 0 ? Number(process.argv[stepsArgument + 1]) : 3;
  const backend = await initBackend();
  const batchSize = 8;
  const rng = createRng(0);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  // random letters separated by spaces: byte-level BPE gives about one token per character, so 200 characters
  // fill the 64-token prompt and completion budgets after truncation
  const text = (length: number): string => Array.from({ length }, (_, i) => (i % 2 === 1 ? ' ' : letters[Math.floor(rng.next() * 26)])).join('');
  const records: PlainPreferenceRecord[] = Array.from({ length: batchSize * (timedSteps + 1) }, () => ({ kind: 'preference', style: 'plain', prompt: text(200), chosen: text(200), rejected: text(200) }));
  const tokenizer = new Tokenizer(trainByteLevelBpe(records.slice(0, 4).map((r) => r.prompt), { vocabSize: 300 }), { eos_token: '<|endoftext|>' });
  const modelOptions = { modelType: 'gpt2' as const, vocabSize: 1024, hiddenSize: 256, numLayers: 4, numHeads: 4, maxPositions: 128, eosTokenId: tokenizer.eosTokenId };
  const model = createCausalLM(modelOptions, { seed: 0 });
  const referenceModel = createCausalLM(modelOptions, { seed: 0 });
  const trainer = new DPOTrainer(
    { model, tokenizer, trainDataset: records, reference: { kind: 'frozen', model: referenceModel } },
    { batchSize, maxSteps: timedSteps + 1, maxLength: 128, maxPromptLength: 64, learningRate: 1e-4, progress: false, beta: 0.1, lossType: 'sigmoid' },
  );
  const starts: number[] = [];
  const holder = trainer.trainer as unknown as { task: TrainerTask<DpoExample> };
  const task = holder.task;
  const countUnits = task.countUnits;
  holder.task = { ...task, countUnits: (batch) => {
    starts.push(performance.now()); // a step starts with counting (and the reference forward pass)
    return countUnits(batch);
  } };
  const result = await trainer.train();
  const end = performance.now();
  const seconds = (end - (starts[1] as number)) / 1000;
  const shapes = result.history.map((record) => record['loss']?.toFixed(4)).join(', ');
  console.log(`backend ${backend} (${tf.getBackend()}): DPO ${((batchSize * timedSteps) / seconds).toFixed(2)} pairs/s, ${(seconds / timedSteps).toFixed(3)} s/step over ${timedSteps} timed steps [${batchSize} pairs × seq 128, gpt2 4×256, vocab 1024]; losses ${shapes}`);
  trainer.dispose();
  model.dispose();
  referenceModel.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
