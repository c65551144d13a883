// A tiny SFT run for the crash tests (output_dir_kill.test.ts): `sft_run.ts <outputDir> <options JSON>`.
// With STOP_AFTER_STEP=<n> and STOP_MARKER=<file>: once step n is done, logged and checkpointed, it writes the marker
// and blocks until it is killed. Prints `DONE <steps>` when training ends.
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'fs';
import { SFTTrainer, type SFTTrainerOptions } from '../../../src/sft/sft_trainer';
import { tinySftSetup } from '../support/tiny_sft';

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const outputDir = process.argv[2] as string;
  const options = JSON.parse(process.argv[3] as string) as SFTTrainerOptions;
  const stopAfter = Number(process.env['STOP_AFTER_STEP'] ?? '0');
  const { model, tokenizer, train } = tinySftSetup();
  const hooks = {
    beforeStep: (step: number) => {
      if (stopAfter === 0 || step !== stopAfter) return;
      writeFileSync(process.env['STOP_MARKER'] as string, String(process.pid));
      const cell = new Int32Array(new SharedArrayBuffer(4));
      for (;;) Atomics.wait(cell, 0, 0, 1000); // blocks the whole process: nothing more is written before the kill
    },
  };
  const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train, hooks }, { maxLength: 48, progress: false, batchSize: 4, learningRate: 2e-3, ...options, outputDir });
  const result = await trainer.train();
  console.log(`DONE ${result.steps}`);
  trainer.dispose();
  model.dispose();
}

void main();
