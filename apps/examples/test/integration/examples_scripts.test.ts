// Runs each script of apps/examples/examples as a child process with tiny settings (`--steps 2`) and checks the
// exit code, the printed before/after figures and the files written.
import * as tf from '@tensorflow/tfjs';
import { spawn, type ChildProcess } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCausalLM, saveCausalLM } from '@rlhfjs/core';
import { TASK_VOCAB_SIZE } from '../../src/task/task_tokenizer';

const repoRoot = path.join(__dirname, '..', '..', '..', '..');
const examplesDir = path.join(__dirname, '..', '..', 'examples');
const tokenizerAssets = path.join(__dirname, '..', '..', 'assets', 'tokenizer');
const CHILD_TIMEOUT_MS = 100_000;
const TEST_TIMEOUT_MS = 120_000;

interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx <script> ...args` from the repository root; the child is always stopped in finally. */
async function runScript(name: string, args: string[]): Promise<ScriptResult> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(examplesDir, name), ...args], {
    cwd: repoRoot,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} did not finish within ${CHILD_TIMEOUT_MS} ms; stdout:\n${stdout}\nstderr:\n${stderr.slice(-2000)}`)), CHILD_TIMEOUT_MS);
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM'); // the DDP launcher forwards SIGTERM to its ranks
      const forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await new Promise((resolve) => child.once('exit', resolve));
      clearTimeout(forced);
    }
  }
}

/** The number printed after `label` (e.g. `heldout loss before: 6.2641` → 6.2641); fails the test when absent. */
function printed(output: string, label: string | RegExp): number {
  const pattern = typeof label === 'string' ? new RegExp(`${label.replace(/[/]/g, '\\/')}:? (-?[0-9.]+|NaN)`) : label;
  const match = pattern.exec(output);
  if (match === null) throw new Error(`no line matching ${pattern} in:\n${output}`);
  return Number(match[1]);
}

function expectSuccess(result: ScriptResult): void {
  if (result.code !== 0) throw new Error(`exit code ${result.code}; stdout:\n${result.stdout}\nstderr:\n${result.stderr.slice(-3000)}`);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

describe('example scripts', () => {
  let work = '';
  let modelDir = '';

  beforeAll(async () => {
    await tf.setBackend('cpu');
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-examples-'));
    // A caller-given Llama directory (the scripts' [modelDir] argument), seeded unlike the scripts' own tiny model.
    modelDir = path.join(work, 'llama');
    const model = createCausalLM(
      { modelType: 'llama', vocabSize: TASK_VOCAB_SIZE, hiddenSize: 64, numLayers: 2, numHeads: 4, numKeyValueHeads: 2, intermediateSize: 128, maxPositions: 64, tieWordEmbeddings: false, bosTokenId: 0, eosTokenId: 0, padTokenId: 1 },
      { seed: 7 },
    );
    await saveCausalLM(model, modelDir);
    model.dispose();
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerAssets, file), path.join(modelDir, file));
  }, 60_000);

  afterAll(async () => {
    if (work !== '') await fs.rm(work, { recursive: true, force: true });
  }, 30_000);

  it('qlora_sft_llama: 4-bit base + LoRA, held-out loss falls, PEFT adapter saved', async () => {
    const output = path.join(work, 'qlora');
    const result = await runScript('qlora_sft_llama.ts', [modelDir, '--steps', '2', '--output', output]);
    expectSuccess(result);
    expect(result.stdout).toMatch(/quantized 14 linear modules to nf4/); // 2 layers × 7 projections; lm_head stays float32
    expect(printed(result.stdout, /nf4: ([0-9.]+)% of their float32 bytes/)).toBeLessThan(20);
    const before = printed(result.stdout, 'heldout loss before');
    const after = printed(result.stdout, 'heldout loss after');
    expect(Math.abs(before - Math.log(TASK_VOCAB_SIZE))).toBeLessThan(0.2); // a random model is near-uniform over the vocabulary
    expect(after).toBeLessThan(before - 0.05);
    const config = JSON.parse(await fs.readFile(path.join(output, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.r).toBe(8);
    expect(await exists(path.join(output, 'adapter_model.safetensors'))).toBe(true);
  }, TEST_TIMEOUT_MS);

  it('dpo_lora_reference: starts at policy = reference (loss ln 2, margin 0) and moves', async () => {
    const output = path.join(work, 'dpo');
    const result = await runScript('dpo_lora_reference.ts', [modelDir, '--steps', '2', '--output', output]);
    expectSuccess(result);
    // B = 0 at the start, so the policy equals its adapters-disabled reference exactly.
    expect(printed(result.stdout, /heldout before: loss ([0-9.]+)/)).toBeCloseTo(Math.LN2, 4);
    expect(Math.abs(printed(result.stdout, /heldout before: .*rewards\/margins (-?[0-9.]+)/))).toBeLessThan(1e-4);
    expect(printed(result.stdout, /heldout before: .*rewards\/accuracies ([0-9.]+)/)).toBe(0);
    const afterMargin = printed(result.stdout, /heldout after: .*rewards\/margins (-?[0-9.]+)/);
    const afterAccuracy = printed(result.stdout, /heldout after: .*rewards\/accuracies ([0-9.]+)/);
    expect(Math.abs(afterMargin)).toBeGreaterThan(1e-4);
    expect(afterAccuracy).toBeGreaterThanOrEqual(0);
    expect(afterAccuracy).toBeLessThanOrEqual(1);
    expect(await exists(path.join(output, 'adapter_config.json'))).toBe(true);
    expect(await exists(path.join(output, 'adapter_model.safetensors'))).toBe(true);
    expect(await exists(path.join(output, 'tokenizer.json'))).toBe(true);
  }, TEST_TIMEOUT_MS);

  it('ppo_code_reward: scores come from the code reward, KL starts at 0, adapter saved', async () => {
    const output = path.join(work, 'ppo');
    const result = await runScript('ppo_code_reward.ts', ['--steps', '2', '--output', output]); // its own tiny model
    expectSuccess(result);
    const iterations = [...result.stdout.matchAll(/iteration (\d+): score (-?[0-9.]+) kl (-?[0-9.]+)/g)];
    expect(iterations.map((match) => Number(match[1]))).toEqual([1, 2]);
    // The first rollouts come from policy = reference (B = 0): KL exactly 0.
    expect(Math.abs(Number(iterations[0]?.[3]))).toBeLessThan(1e-4);
    // The code reward only gives −1, −0.5, 0, 0.5 or 1 per completion: batch means of 8 are multiples of 1/16.
    for (const match of iterations) {
      const score = Number(match[2]);
      expect(score).toBeGreaterThanOrEqual(-1);
      expect(score).toBeLessThanOrEqual(1);
      expect(Math.abs(score * 16 - Math.round(score * 16))).toBeLessThan(1e-3);
    }
    for (const label of ['heldout mean score before', 'heldout mean score after']) {
      const score = printed(result.stdout, label);
      expect(score).toBeGreaterThanOrEqual(-1);
      expect(score).toBeLessThanOrEqual(1);
    }
    expect(await exists(path.join(output, 'adapter_model.safetensors'))).toBe(true);
  }, TEST_TIMEOUT_MS);

  it('ddp_two_process: two ranks end with identical weights, rank 0 logs and saves', async () => {
    const output = path.join(work, 'ddp');
    const result = await runScript('ddp_two_process.ts', ['--steps', '2', '--output', output]); // launcher mode
    expectSuccess(result);
    const steps = [...result.stdout.matchAll(/step (\d+): loss ([0-9.]+)/g)];
    expect(steps.map((match) => Number(match[1]))).toEqual([1, 2]); // printed once: by rank 0 only
    expect(Number(steps[1]?.[2])).toBeLessThan(Number(steps[0]?.[2]));
    const checksums = new Map([...result.stdout.matchAll(/rank (\d)\/2 weights checksum ([0-9.]+)/g)].map((match) => [match[1], match[2]]));
    expect([...checksums.keys()].sort()).toEqual(['0', '1']);
    expect(checksums.get('1')).toBe(checksums.get('0'));
    for (const file of ['config.json', 'tokenizer.json']) expect(await exists(path.join(output, file))).toBe(true);
    expect((await fs.readdir(output)).some((file) => file.endsWith('.safetensors'))).toBe(true);
  }, TEST_TIMEOUT_MS);
});
