// Saves the tiny SFT model (init seed from argv) with SFTTrainer.save into a directory: `save_model.ts <dir> <seed>`.
import * as tf from '@tensorflow/tfjs';
import { SFTTrainer } from '../../../src/sft/sft_trainer';
import { tinySftSetup } from '../support/tiny_sft';

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const { model, tokenizer, train } = tinySftSetup(Number(process.argv[3]));
  const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train }, { maxLength: 48, progress: false });
  await trainer.save(process.argv[2] as string);
  console.log('SAVED');
}

void main();
