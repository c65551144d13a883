import { spawn } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AdamW } from '../../src/optim/adamw';
import { listCheckpoints, loadTrainerCheckpoint } from '../../src/train/checkpoint';

// A trainer checkpoint being written when its process is killed (SIGKILL) must leave the previous checkpoint
// intact and loadable: checkpoints are written to a temp dir and renamed into place.
const WORKER = path.join(__dirname, 'workers', 'checkpoint_writer.ts');

describe('interrupted checkpoint write', () => {
  it('a process killed mid-save leaves the last good checkpoint loadable', async () => {
    const outputDir = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-kill-'));
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, outputDir], { cwd: path.join(__dirname, '..', '..', '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      // the worker prints "saved <step>" after each complete checkpoint and then starts the next, larger one
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('worker did not save a first checkpoint in time')), 60_000);
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('saved 1')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
      });
      await new Promise((resolve) => setTimeout(resolve, 150)); // the second save is under way
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => child.once('close', resolve));
    const checkpoints = await listCheckpoints(outputDir);
    expect(checkpoints.map((c) => c.step)).toContain(1);
    const last = checkpoints[checkpoints.length - 1] as { step: number; directory: string };
    await tf.setBackend('cpu');
    const parameter = tf.variable(tf.zeros([256, 1024]));
    const optimizer = new AdamW();
    const state = await loadTrainerCheckpoint(last.directory, new Map([['weight', parameter]]), optimizer);
    expect(state.step).toBe(last.step);
    // the worker writes the step number into every value of the parameter
    expect(parameter.dataSync()[12345]).toBe(last.step);
    parameter.dispose();
    optimizer.dispose();
    await fs.rm(outputDir, { recursive: true, force: true });
  }, 90_000);
});
