// Drives the rlhfjs CLI in child processes on a tiny random model and checks outputs, exit codes and messages.
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCausalLM, loadCausalLM, loadTokenizer, saveCausalLM } from '@rlhfjs/core';
import { generateCompletions } from '../../src/pipeline/generate_completions';
import { goldScore } from '../../src/task/gold_score';
import { TASK_MODEL_CONFIG } from '../../src/task/model_config';

const repoRoot = path.join(__dirname, '..', '..', '..', '..');
const tokenizerAssets = path.join(__dirname, '..', '..', 'assets', 'tokenizer');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/examples/src/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, RLHFJS_BACKEND: 'cpu' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function expectOneLineError(result: { status: number | null; stderr: string }, status: number, pattern: RegExp): void {
  expect(result.status).toBe(status);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('rlhfjs CLI', () => {
  let work = '';
  let modelDir = '';
  const prompts = ['Add 3 and 4.', "Spell 'cat' backwards.", 'What is 7 times 6?'];

  beforeAll(async () => {
    await tf.setBackend('cpu');
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-cli-'));
    modelDir = path.join(work, 'model');
    const model = createCausalLM(TASK_MODEL_CONFIG, { seed: 3 });
    await saveCausalLM(model, modelDir);
    model.dispose();
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerAssets, name), path.join(modelDir, name));
    await fs.writeFile(path.join(work, 'prompts.jsonl'), prompts.map((prompt) => JSON.stringify({ prompt })).join('\n') + '\n');
  }, 60_000);

  afterAll(async () => {
    if (work !== '') await fs.rm(work, { recursive: true, force: true });
  }, 30_000);

  it('generates what the library generates, with flags overriding the config file', async () => {
    await fs.writeFile(path.join(work, 'generate.yaml'), 'max-new-tokens: 2\nbatchSize: 2\nseed: 5\n');
    const result = cli(['generate', '--model', modelDir, '--prompts-file', path.join(work, 'prompts.jsonl'), '--config', path.join(work, 'generate.yaml'), '--max-new-tokens', '6']);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const records = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { prompt: string; completion: string });
    const model = await loadCausalLM(modelDir);
    try {
      const expected = generateCompletions(model, await loadTokenizer(modelDir), prompts, { maxNewTokens: 6, batchSize: 2, seed: 5, doSample: false });
      expect(records).toEqual(prompts.map((prompt, i) => ({ prompt, completion: expected[i] })));
      // 6 new tokens, not the file's 2: at least one random-model completion is longer than 2 tokens would allow.
      const short = generateCompletions(model, await loadTokenizer(modelDir), prompts, { maxNewTokens: 2, batchSize: 2, doSample: false });
      expect(records.map((record) => record.completion)).not.toEqual(short);
    } finally {
      model.dispose();
    }
  }, 90_000);

  it('evaluates the gold score on task prompts', async () => {
    const output = path.join(work, 'eval.json');
    const result = cli(['eval', '--model', modelDir, '--prompts-file', path.join(work, 'prompts.jsonl'), '--limit', '2', '--max-new-tokens', '5', '--output', output]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const printed = JSON.parse(result.stdout) as { goldScore: number; count: number };
    const saved = JSON.parse(await fs.readFile(output, 'utf8')) as { goldScore: number; prompts: string[]; completions: string[]; scores: number[] };
    expect(printed.count).toBe(2);
    expect(saved.prompts).toEqual(prompts.slice(0, 2));
    expect(saved.scores).toEqual(saved.prompts.map((prompt, i) => goldScore(prompt, saved.completions[i] as string)));
    expect(printed.goldScore).toBeCloseTo(saved.scores.reduce((a, b) => a + b, 0) / 2, 12);
  }, 90_000);

  it('lists every option with its default in --help', () => {
    const result = cli(['dpo', '--help']);
    expect(result.status).toBe(0);
    for (const text of ['--beta <b>', '(default: 0.1)', '--loss-type <type>', '(choices: sigmoid, hinge, ipo)', '--nproc-per-node <n>', '--config <file>', '--train-file <file>']) {
      expect(result.stdout).toContain(text);
    }
  }, 60_000);

  it('rejects bad flags, bad values and bad config files with one line and exit 2', async () => {
    expectOneLineError(cli(['generate', '--model', modelDir, '--prompt', 'x', '--bogus']), 2, /unknown option '--bogus'/);
    expectOneLineError(cli(['generate', '--model', modelDir, '--prompt', 'x', '--top-p', '2', '--max-new-tokens', 'many']), 2, /--max-new-tokens must be an integer, got "many"; --top-p must be <= 1, got 2/);
    await fs.writeFile(path.join(work, 'bad.yaml'), 'max-new-tokens: [1,\n  seed 2\n');
    expectOneLineError(cli(['generate', '--model', modelDir, '--prompt', 'x', '--config', path.join(work, 'bad.yaml')]), 2, /bad\.yaml is not valid YAML/);
    await fs.writeFile(path.join(work, 'unknown.json'), '{"temprature": 0.5}');
    expectOneLineError(cli(['generate', '--model', modelDir, '--prompt', 'x', '--config', path.join(work, 'unknown.json')]), 2, /unknown key "temprature"/);
  }, 120_000);

  it('reports runtime errors and unfinished commands with one line and exit 1', () => {
    expectOneLineError(cli(['generate', '--model', path.join(work, 'missing'), '--prompt', 'x']), 1, /cannot read .*missing.*tokenizer\.json/);
    const sft = cli(['sft', '--train-file', 'a.jsonl', '--output-dir', path.join(work, 'out')]);
    expect(sft.status === 1 || sft.status === 0).toBe(true);
    if (sft.status === 1) expectOneLineError(sft, 1, /rlhfjs sft is not (available|wired)/);
  }, 60_000);
});
