// The CLI's --output handling (issue 18 items 1 and 5, issue 17's loadable checkpoints), in child processes on a tiny
// random model: a second run into a used --output is refused unless --overwrite (and then never mixes runs),
// --resume-from latest with no checkpoint is an error, and checkpoint-N/ works with `rlhfjs generate` (full model)
// or holds a PEFT adapter (LoRA).
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCausalLM, saveCausalLM } from '@rlhfjs/core';
import { cli, cliInProcess, tinyConfig, tokenizerAssets } from './cli_helpers';
import { upperPrompt, TASK_WORDS } from '../../src/task/task_prompts';

const TINY_CONFIG = tinyConfig(16);

async function logSteps(output: string): Promise<number[]> {
  const text = await fs.readFile(path.join(output, 'sft_metrics.jsonl'), 'utf8');
  return text.trim().split('\n').map((line) => (JSON.parse(line) as { step: number }).step);
}

async function checkpointNames(output: string): Promise<string[]> {
  return (await fs.readdir(output)).filter((name) => name.startsWith('checkpoint-')).sort();
}

describe('rlhfjs --output', () => {
  let work = '';
  let modelDir = '';
  let train = '';
  beforeAll(async () => {
    await tf.setBackend('cpu');
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-cli-out-'));
    modelDir = path.join(work, 'model');
    const model = createCausalLM(TINY_CONFIG, { seed: 3 });
    await saveCausalLM(model, modelDir);
    model.dispose();
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerAssets, name), path.join(modelDir, name));
    train = path.join(work, 'sft.jsonl');
    const tasks = TASK_WORDS.slice(0, 8).map((word) => upperPrompt(word));
    await fs.writeFile(train, tasks.map((task) => JSON.stringify({ prompt: task.prompt, completion: ` ${task.answer}.` })).join('\n') + '\n');
  }, 60_000);
  afterAll(async () => {
    if (work !== '') await fs.rm(work, { recursive: true, force: true });
  }, 30_000);

  it('a second sft into the same --output is refused unless --overwrite, which keeps only the new run; its checkpoints generate', async () => {
    const output = path.join(work, 'out');
    const sft = (extra: string[]) => ['sft', '--model', modelDir, '--train', train, '--output', output, '--batch-size', '4', '--learning-rate', '0.01', ...extra];
    const first = cli(sft(['--max-steps', '4', '--save-every', '2']));
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.status).toBe(0);
    expect(await checkpointNames(output)).toEqual(['checkpoint-2', 'checkpoint-4']);

    const refused = await cliInProcess(sft(['--max-steps', '2', '--save-every', '1']));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^error: sft trainer: output directory .*out holds another run \(checkpoint-2, checkpoint-4, model\.safetensors, sft_metrics\.jsonl\); .*--overwrite.*--resume-from latest.*\n$/);
    expect(await checkpointNames(output)).toEqual(['checkpoint-2', 'checkpoint-4']);

    const second = cli(sft(['--max-steps', '2', '--save-every', '1', '--overwrite']));
    expect(second.stderr).not.toMatch(/error/i);
    expect(second.status).toBe(0);
    expect(await checkpointNames(output)).toEqual(['checkpoint-1', 'checkpoint-2']);
    expect(await logSteps(output)).toEqual([1, 2]);
    expect((await fs.readdir(path.join(output, 'checkpoint-2'))).sort()).toEqual(['chat_template.jinja', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'parameters.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json']);
    // checkpoint-2 is the final model (the run ended at step 2): generating with either gives the same text
    const prompt = upperPrompt(TASK_WORDS[0] as string).prompt;
    const fromCheckpoint = cli(['generate', '--model', path.join(output, 'checkpoint-2'), '--prompt', prompt, '--max-new-tokens', '4']);
    expect(fromCheckpoint.stderr).not.toMatch(/error/i);
    expect(fromCheckpoint.status).toBe(0);
    expect(fromCheckpoint.stdout).toBe(cli(['generate', '--model', output, '--prompt', prompt, '--max-new-tokens', '4']).stdout);
  }, 180_000);

  it('--resume-from latest with no checkpoint is an error, not a fresh start; --overwrite with it is a usage error', async () => {
    const output = path.join(work, 'empty-resume');
    const result = await cliInProcess(['sft', '--model', modelDir, '--train', train, '--output', output, '--max-steps', '1', '--batch-size', '4', '--resume-from', 'latest']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^error: sft trainer: resumeFrom 'latest' found no checkpoint-<step> folder under .*empty-resume.*\n$/);
    await expect(fs.stat(output)).rejects.toThrow(/ENOENT/); // nothing was created, nothing trained
    const both = await cliInProcess(['sft', '--model', modelDir, '--train', train, '--output', output, '--max-steps', '1', '--resume-from', 'latest', '--overwrite']);
    expect(both.status).not.toBe(0);
    expect(both.stderr).toMatch(/overwriteOutputDir: true would delete it/);
  }, 60_000);

  it('LoRA: checkpoint-N/ holds the PEFT adapter and its config beside the tokenizer, not a full model', async () => {
    const output = path.join(work, 'lora');
    const result = cli(['sft', '--model', modelDir, '--train', train, '--output', output, '--batch-size', '4', '--max-steps', '2', '--save-every', '2', '--lora-r', '2']);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const files = (await fs.readdir(path.join(output, 'checkpoint-2'))).sort();
    expect(files).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'chat_template.jinja', 'optimizer.safetensors', 'parameters.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json']);
    expect(await fs.readFile(path.join(output, 'checkpoint-2', 'adapter_model.safetensors'))).toEqual(await fs.readFile(path.join(output, 'adapter_model.safetensors')));
  }, 90_000);
});
