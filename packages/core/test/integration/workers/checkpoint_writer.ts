// Writes trainer checkpoints in a loop until killed (see checkpoint_kill.test.ts).
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../../../src/optim/adamw';
import { saveTrainerCheckpoint } from '../../../src/train/checkpoint';

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const outputDir = process.argv[2] as string;
  const parameter = tf.variable(tf.zeros([256, 1024]));
  const parameters = new Map([['weight', parameter]]);
  const optimizer = new AdamW();
  for (let step = 1; step < 1000; step++) {
    parameter.assign(tf.fill([256, 1024], step));
    await saveTrainerCheckpoint(outputDir, parameters, optimizer, { step, consumed: step, seed: 0, extra: null }, 1000);
    console.log(`saved ${step}`);
  }
}

void main();
