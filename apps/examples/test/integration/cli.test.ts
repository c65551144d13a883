// Drives the rlhfjs CLI in child processes on a tiny random model and checks outputs, exit codes and messages.
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCausalLM, loadCausalLM, loadTokenizer, saveCausalLM, type CausalLM } from '@rlhfjs/core';
import { loadAdapter } from '@rlhfjs/lora';
import { generateCompletions } from '../../src/pipeline/generate_completions';
import { goldScore } from '../../src/task/gold_score';
import { TASK_WORDS, upperPrompt } from '../../src/task/task_prompts';
import { cli, cliInProcess, tinyConfig, tokenizerAssets } from './cli_helpers';

const TINY_CONFIG = tinyConfig();

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
  const prompts = ["Write 'cat' in capitals.", "Spell 'cat' backwards.", "Write 'dog' with a capital first letter."];

  beforeAll(async () => {
    await tf.setBackend('cpu');
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-cli-'));
    modelDir = path.join(work, 'model');
    const model = createCausalLM(TINY_CONFIG, { seed: 3 });
    await saveCausalLM(model, modelDir);
    model.dispose();
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerAssets, name), path.join(modelDir, name));
    await fs.writeFile(path.join(work, 'prompts.jsonl'), prompts.map((prompt) => JSON.stringify({ prompt })).join('\n') + '\n');
    // 16 SFT records and 16 preference pairs of the task's "capitals" requests.
    const tasks = TASK_WORDS.slice(0, 16).map((word) => upperPrompt(word));
    const jsonl = (records: object[]): string => records.map((record) => JSON.stringify(record)).join('\n') + '\n';
    await fs.writeFile(path.join(work, 'sft.jsonl'), jsonl(tasks.map((task) => ({ prompt: task.prompt, completion: ` The answer is ${task.answer}.` }))));
    await fs.writeFile(path.join(work, 'pref.jsonl'), jsonl(tasks.map((task) => ({ prompt: task.prompt, chosen: ` ${task.answer}.`, rejected: ` ${task.answer.toLowerCase()}.` }))));
    await fs.writeFile(path.join(work, 'task_prompts.jsonl'), jsonl(tasks.slice(0, 8).map((task) => ({ prompt: task.prompt }))));
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

  it('lists every option with its default in --help', async () => {
    const result = await cliInProcess(['dpo', '--help']);
    expect(result.status).toBe(0);
    const help = result.stdout.replace(/\s+/g, ' ');
    for (const text of [
      '--beta <b>', '(default: 0.1)', '--loss-type <type>', '(choices: sigmoid, hinge, ipo,', '--nproc-per-node <n>', '--config <file>',
      '--model <dir>', '--from-scratch <file>', '--train <file>', '--eval <file>', '--output <dir>', '--max-steps <n>', '--learning-rate <lr>', '(default: 0.00005)',
      '--gradient-accumulation-steps <n>', '--max-length <n>', '(default: 1024)', '--lora-r <r>', '--lora-alpha <alpha>', '--lora-targets <names>', '(default: "all-linear")',
    ]) {
      expect(help).toContain(text);
    }
    // every trainer subcommand has the one shared gradient-checkpointing flag
    for (const command of ['sft', 'dpo', 'reward', 'ppo', 'grpo']) {
      const commandHelp = (await cliInProcess([command, '--help'])).stdout.replace(/\s+/g, ' ');
      expect([command, commandHelp.includes("--gradient-checkpointing recompute each block's activations")]).toEqual([command, true]);
    }
  }, 60_000);

  it('rejects bad flags, bad values and bad config files with one line and exit 2', async () => {
    expectOneLineError(cli(['generate', '--model', modelDir, '--prompt', 'x', '--bogus']), 2, /unknown option '--bogus'/);
    expectOneLineError(await cliInProcess(['generate', '--model', modelDir, '--prompt', 'x', '--top-p', '2', '--max-new-tokens', 'many']), 2, /--max-new-tokens must be an integer, got "many"; --top-p must be <= 1, got 2/);
    await fs.writeFile(path.join(work, 'bad.yaml'), 'max-new-tokens: [1,\n  seed 2\n');
    expectOneLineError(await cliInProcess(['generate', '--model', modelDir, '--prompt', 'x', '--config', path.join(work, 'bad.yaml')]), 2, /bad\.yaml is not valid YAML/);
    await fs.writeFile(path.join(work, 'unknown.json'), '{"max-steps": 2, "temprature": 0.5}');
    expectOneLineError(
      await cliInProcess(['dpo', '--model', modelDir, '--train', 'a.jsonl', '--output', 'out', '--config', path.join(work, 'unknown.json'), '--loss-type', 'best', '--lora-r', '0']),
      2,
      /unknown key "temprature" for "dpo".*; --loss-type must be one of sigmoid, .*got "best"; --lora-r must be >= 1, got 0/,
    );
  }, 120_000);

  it('reports runtime errors with one line and exit 1', async () => {
    expectOneLineError(cli(['generate', '--model', path.join(work, 'missing'), '--prompt', 'x']), 1, /cannot read .*missing.*tokenizer\.json/);
    expectOneLineError(await cliInProcess(['sft', '--model', modelDir, '--train', path.join(work, 'pref.jsonl'), '--output', path.join(work, 'never')]), 1, /--train holds preference records; this command needs prompt_completion/);
  }, 60_000);

  /** Logits of the task prompts under a model, [prompts × T × V] flattened per prompt. */
  async function logitsOf(model: CausalLM): Promise<Float32Array[]> {
    const tokenizer = await loadTokenizer(modelDir);
    return prompts.map((prompt) =>
      tf.tidy(() => {
        const ids = tokenizer.encode(prompt);
        return (model.forward({ inputIds: tf.tensor2d([ids], [1, ids.length], 'int32') }).logits as tf.Tensor).dataSync() as Float32Array;
      }),
    );
  }

  function maxDifference(a: Float32Array[], b: Float32Array[]): number {
    let largest = 0;
    a.forEach((values, row) => values.forEach((value, i) => (largest = Math.max(largest, Math.abs(value - ((b[row] as Float32Array)[i] as number))))));
    return largest;
  }

  it('sft trains a LoRA adapter (config file under flags); merge-adapter folds it into the base model', async () => {
    const adapterDir = path.join(work, 'sft-lora');
    await fs.writeFile(path.join(work, 'sft.yaml'), 'max-steps: 2\nlearning-rate: 0.01\nbatch-size: 16\nlora-targets: c_attn,c_fc\n');
    const sft = cli(['sft', '--model', modelDir, '--train', path.join(work, 'sft.jsonl'), '--eval', path.join(work, 'sft.jsonl'), '--output', adapterDir, '--config', path.join(work, 'sft.yaml'), '--batch-size', '4', '--lora-r', '4']);
    expect(sft.stderr).not.toMatch(/error/i);
    expect(sft.status).toBe(0);
    expect(sft.stdout).toMatch(/^sft: steps=2 loss=\d+\.\d+ eval_loss=\d+\.\d+ saved=adapter output=.*sft-lora\n$/);
    const adapterConfig = JSON.parse(await fs.readFile(path.join(adapterDir, 'adapter_config.json'), 'utf8')) as { r: number; target_modules: string[] };
    expect(adapterConfig.r).toBe(4);
    expect([...adapterConfig.target_modules].sort()).toEqual(['c_attn', 'c_fc']);
    const files = await fs.readdir(adapterDir);
    for (const name of ['adapter_model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'sft_metrics.jsonl']) expect(files).toContain(name);
    expect(files).not.toContain('model.safetensors');
    // batch 4 from the flag, not 16 from the file: 16 records / 4 = 4 steps per epoch, cut to max-steps 2 from the file.
    const log = (await fs.readFile(path.join(adapterDir, 'sft_metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    expect(log.filter((record) => 'loss' in record).map((record) => record.step)).toEqual([1, 2]);

    const mergedDir = path.join(work, 'merged');
    const merge = cli(['merge-adapter', '--model', modelDir, '--adapter', adapterDir, '--output', mergedDir]);
    expect(merge.stderr).not.toMatch(/error/i);
    expect(merge.status).toBe(0);
    expect(merge.stdout).toMatch(/^merge-adapter: modules=2 output=.*merged\n$/);
    const base = await loadCausalLM(modelDir);
    const merged = await loadCausalLM(mergedDir);
    try {
      const plain = await logitsOf(base);
      await loadAdapter(base, adapterDir);
      const adapted = await logitsOf(base);
      expect(maxDifference(plain, adapted)).toBeGreaterThan(1e-3); // the trained adapter does something
      expect(maxDifference(adapted, await logitsOf(merged))).toBeLessThan(1e-4); // and the merged model does the same
      expect(await fs.readdir(mergedDir)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
    } finally {
      base.dispose();
      merged.dispose();
    }
  }, 120_000);

  it('reward trains a reward model from scratch; ppo trains a LoRA policy against it', async () => {
    const rewardDir = path.join(work, 'rm');
    await fs.writeFile(path.join(work, 'scratch.json'), JSON.stringify(TINY_CONFIG));
    const reward = cli(['reward', '--from-scratch', path.join(work, 'scratch.json'), '--tokenizer', modelDir, '--train', path.join(work, 'pref.jsonl'), '--eval', path.join(work, 'pref.jsonl'), '--output', rewardDir, '--max-steps', '2', '--batch-size', '4', '--learning-rate', '0.001', '--gradient-checkpointing']);
    expect(reward.stderr).not.toMatch(/error/i);
    expect(reward.status).toBe(0);
    expect(reward.stdout).toMatch(/^reward: steps=2 loss=\d+\.\d+ accuracy=[\d.]+ eval_accuracy=[\d.]+ eval_margin=\S+ saved=model output=.*rm\n$/);
    const config = JSON.parse(await fs.readFile(path.join(rewardDir, 'config.json'), 'utf8')) as { architectures: string[]; n_embd: number };
    expect(config.architectures[0]).toMatch(/ForSequenceClassification$/);
    expect(config.n_embd).toBe(32);

    const ppoDir = path.join(work, 'ppo');
    const ppo = cli(['ppo', '--model', modelDir, '--train', path.join(work, 'task_prompts.jsonl'), '--reward-model', rewardDir, '--output', ppoDir, '--iterations', '1', '--batch-size', '4', '--mini-batch-size', '2', '--ppo-epochs', '1', '--max-new-tokens', '4', '--learning-rate', '0.001', '--lora-r', '2', '--gradient-checkpointing']);
    expect(ppo.status).toBe(0);
    expect(ppo.stderr).toMatch(/^ppo 1\/1 score=\S+ kl=\S+/m);
    expect(ppo.stdout).toMatch(/^ppo: iterations=1 score=\S+ kl=\S+ policy_loss=\S+ saved=adapter output=.*ppo\n$/);
    expect(await fs.readdir(ppoDir)).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'ppo_metrics.jsonl']));
    // ppo logs its metrics like the other commands: one {stage, step, ...} line per iteration
    const ppoLog = (await fs.readFile(path.join(ppoDir, 'ppo_metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(ppoLog).toHaveLength(1);
    expect(ppoLog[0]).toMatchObject({ stage: 'ppo', step: 1 });
    expect(typeof ppoLog[0]?.['objective/scores']).toBe('number');
    expect(typeof ppoLog[0]?.['objective/kl']).toBe('number');
  }, 120_000);

  it('grpo trains against the gold scorer with a format reward, beta > 0 with adapters off as the reference, and resumes from its checkpoint', async () => {
    const grpoDir = path.join(work, 'grpo');
    const args = ['grpo', '--model', modelDir, '--train', path.join(work, 'task_prompts.jsonl'), '--reward-model', 'gold', '--format-regex', 'The answer is .*', '--output', grpoDir, '--batch-size', '2', '--num-generations', '2', '--max-completion-length', '4', '--learning-rate', '0.001', '--beta', '0.04', '--lora-r', '2', '--save-every', '1'];
    const grpo = cli([...args, '--iterations', '1', '--gradient-checkpointing']);
    expect(grpo.stderr).not.toMatch(/error/i);
    expect(grpo.status).toBe(0);
    expect(grpo.stderr).toMatch(/^grpo 1\/1 reward=\S+ reward_std=\S+ kl=\d\S* loss=\S+/m);
    expect(grpo.stdout).toMatch(/^grpo: iterations=1 reward=\S+ kl=\S+ loss=\S+ saved=adapter output=.*grpo\n$/);
    expect(await fs.readdir(grpoDir)).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'checkpoint-1']));
    // every checkpoint-N is also the policy's adapter folder (as HF Trainer's are), beside the trainer state
    expect(await fs.readdir(path.join(grpoDir, 'checkpoint-1'))).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'trainer_state.json']));
    const grpoMetrics = (await fs.readFile(path.join(grpoDir, 'grpo_metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(grpoMetrics.map((record) => [record['stage'], record['step']])).toEqual([['grpo', 1]]);
    expect(typeof grpoMetrics[0]?.['reward']).toBe('number');
    const resumed = cli([...args, '--iterations', '2', '--resume-from', path.join(grpoDir, 'checkpoint-1')]);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toMatch(/^grpo 2\/2 /m);
    expect(resumed.stderr).not.toMatch(/^grpo 1\/2 /m);
    // a fresh run into the same --output is refused (core's output-directory guard), not mixed into the old one
    const again = cli([...args, '--iterations', '1']);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/holds another run \(.*checkpoint-2.*grpo_metrics\.jsonl.*--overwrite/);
    const bad = cli([...args, '--loss-type', 'ppo']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/loss-type|lossType/);
  }, 120_000);

  it('dpo fine-tunes the whole model against a frozen copy', async () => {
    const dpoDir = path.join(work, 'dpo');
    const dpo = cli(['dpo', '--model', modelDir, '--train', path.join(work, 'pref.jsonl'), '--eval', path.join(work, 'pref.jsonl'), '--output', dpoDir, '--max-steps', '2', '--batch-size', '4', '--learning-rate', '0.001', '--beta', '0.5', '--gradient-checkpointing']);
    expect(dpo.stderr).not.toMatch(/error/i);
    expect(dpo.status).toBe(0);
    expect(dpo.stdout).toMatch(/^dpo: steps=2 loss=\d+\.\d+ accuracy=\S+ margin=\S+ eval_loss=\d+\.\d+ eval_accuracy=\S+ saved=model output=.*dpo\n$/);
    // Step 1's policy equals the reference: the sigmoid loss is ln 2 (up to float32) whatever the data.
    const log = (await fs.readFile(path.join(dpoDir, 'dpo_metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    expect(log[0]?.loss).toBeCloseTo(Math.LN2, 5);
    const start = await loadCausalLM(modelDir);
    const trained = await loadCausalLM(dpoDir);
    try {
      expect(maxDifference(await logitsOf(start), await logitsOf(trained))).toBeGreaterThan(1e-4);
    } finally {
      start.dispose();
      trained.dispose();
    }
  }, 120_000);

  it('quantize reports the 4-bit memory and the drift of logits and completions', async () => {
    const reportFile = path.join(work, 'quantize.json');
    const result = cli(['quantize', '--model', modelDir, '--eval-prompts', path.join(work, 'prompts.jsonl'), '--max-new-tokens', '4', '--output', reportFile]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const report = JSON.parse(await fs.readFile(reportFile, 'utf8')) as Record<string, unknown>;
    // 12,288 linear weights (c_attn 32×96, attn c_proj 32×32, c_fc 32×128, mlp c_proj 128×32): 4 bytes each in
    // float32; in NF4 half a byte each plus one float32 absmax per block of 64.
    const values = 32 * 96 + 32 * 32 + 32 * 128 + 128 * 32;
    expect(report['modules']).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_fc', 'transformer.h.0.mlp.c_proj']);
    expect(report['float32WeightBytes']).toBe(values * 4);
    expect(report['quantizedWeightBytes']).toBe(values / 2 + (values / 64) * 4);
    expect(report['saved']).toBe(false);
    expect(report['prompts']).toBe(prompts.length);
    const drift = report['logitsMaxAbsDifference'] as number;
    expect(drift).toBeGreaterThan(0);
    expect(drift).toBeLessThan(1);
    expect(result.stdout).toMatch(new RegExp(`^quantize: modules=4 float32_bytes=${values * 4} quantized_bytes=${values / 2 + values / 16} compression=\\S+ logits_max_abs_diff=\\S+ next_token_agreement=\\S+ identical_completions=\\S+ report=.*quantize\\.json\\n$`));
  }, 90_000);
});
