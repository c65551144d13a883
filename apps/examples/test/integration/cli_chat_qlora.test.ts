// The CLI's --version, generate --chat (and --temperature 0), sft --quantize (QLoRA) with plain progress lines
// when stderr is not a terminal; on a tiny random GPT-2 over the committed task tokenizer (it has a chat template).
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCausalLM, loadCausalLM, loadTokenizer, saveCausalLM, type CausalLM, type ChatMessage } from '@rlhfjs/core';
import { loadAdapter, quantizeModel } from '@rlhfjs/lora';
import { cli, cliInProcess, repoRoot, tinyConfig, tokenizerAssets } from './cli_helpers';
import { generateCompletions } from '../../src/pipeline/generate_completions';
import { TASK_WORDS, upperPrompt } from '../../src/task/task_prompts';

const TINY_CONFIG = tinyConfig();

function expectOneLineError(result: { status: number | null; stderr: string }, status: number, pattern: RegExp): void {
  expect(result.status).toBe(status);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('rlhfjs CLI: --version, generate --chat, sft --quantize, progress lines', () => {
  let work = '';
  let modelDir = '';
  const conversations: ChatMessage[][] = [
    [{ role: 'user', content: "Write 'cat' in capitals." }],
    [
      { role: 'system', content: 'Answer politely.' },
      { role: 'user', content: "Spell 'dog' backwards." },
    ],
  ];

  beforeAll(async () => {
    await tf.setBackend('cpu');
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-cli-chat-'));
    modelDir = path.join(work, 'model');
    const model = createCausalLM(TINY_CONFIG, { seed: 4 });
    await saveCausalLM(model, modelDir);
    model.dispose();
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerAssets, name), path.join(modelDir, name));
    const jsonl = (records: object[]): string => records.map((record) => JSON.stringify(record)).join('\n') + '\n';
    await fs.writeFile(path.join(work, 'chats.jsonl'), jsonl([{ messages: conversations[0] }, { prompt: conversations[1] }]));
    const tasks = TASK_WORDS.slice(0, 8).map((word) => upperPrompt(word));
    await fs.writeFile(path.join(work, 'sft.jsonl'), jsonl(tasks.map((task) => ({ prompt: task.prompt, completion: ` The answer is ${task.answer}.` }))));
  }, 60_000);

  afterAll(async () => {
    if (work !== '') await fs.rm(work, { recursive: true, force: true });
  }, 30_000);

  it('--version prints the CLI and package versions and exits 0', async () => {
    const core = JSON.parse(await fs.readFile(path.join(repoRoot, 'packages', 'core', 'package.json'), 'utf8')) as { version: string };
    const dpo = JSON.parse(await fs.readFile(path.join(repoRoot, 'packages', 'dpo', 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await cliInProcess([flag]);
      expect(result.status).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^rlhfjs \d+\.\d+\.\d+ \(.*\)\n$/);
      expect(result.stdout).toContain(`@rlhfjs/core ${core.version}`);
      expect(result.stdout).toContain(`@rlhfjs/dpo ${dpo.version}`);
    }
  }, 30_000);

  it('generate --chat renders messages with the chat template and writes conversational records', async () => {
    const result = cli(['generate', '--model', modelDir, '--chat', '--prompts-file', path.join(work, 'chats.jsonl'), '--max-new-tokens', '5', '--temperature', '0']);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const records = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { prompt: ChatMessage[]; completion: ChatMessage[] });
    const model = await loadCausalLM(modelDir);
    try {
      const tokenizer = await loadTokenizer(modelDir);
      const texts = conversations.map((messages) => tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }));
      expect(texts[1]).toBe("Answer politely.\nSpell 'dog' backwards."); // the template ran (system line, then the user turn)
      const expected = generateCompletions(model, tokenizer, texts, { maxNewTokens: 5, doSample: false, addSpecialTokens: false });
      expect(records).toEqual(conversations.map((messages, i) => ({ prompt: messages, completion: [{ role: 'assistant', content: expected[i] }] })));

      // --prompt takes one JSON conversation, or plain text as one user message
      const single = await cliInProcess(['generate', '--model', modelDir, '--chat', '--prompt', JSON.stringify(conversations[1]), '--max-new-tokens', '5']);
      expect(single.status).toBe(0);
      expect(JSON.parse(single.stdout)).toEqual(records[1]);
      const plain = await cliInProcess(['generate', '--model', modelDir, '--chat', '--prompt', "Write 'cat' in capitals.", '--max-new-tokens', '5']);
      expect(JSON.parse(plain.stdout)).toEqual(records[0]);
    } finally {
      model.dispose();
    }
  }, 90_000);

  it('generate --chat rejects malformed messages with one line naming the problem', async () => {
    expectOneLineError(await cliInProcess(['generate', '--model', modelDir, '--chat', '--prompt', '[{"role": "user"']), 2, /--prompt.*must be a JSON list of messages/);
    expectOneLineError(await cliInProcess(['generate', '--model', modelDir, '--chat', '--prompt', '[{"role": "robot", "content": "hi"}]']), 2, /message 0 has role "robot"; expected one of system, user, assistant, tool/);
    await fs.writeFile(path.join(work, 'bad_chats.jsonl'), '{"messages": [{"role": "user", "content": "a"}]}\n{"messages": [{"role": "user"}]}\n');
    expectOneLineError(await cliInProcess(['generate', '--model', modelDir, '--chat', '--prompts-file', path.join(work, 'bad_chats.jsonl')]), 1, /bad_chats\.jsonl, line 2, field "messages": message 0 needs a string "content"/);
    expectOneLineError(await cliInProcess(['generate', '--model', modelDir, '--prompt', 'x', '--do-sample', '--temperature', '0']), 2, /temperature 0 means greedy decoding, which contradicts doSample: true/);
  }, 60_000);

  it('sft --quantize nf4 trains a QLoRA adapter and prints plain progress lines on a non-terminal stderr', async () => {
    const output = path.join(work, 'qlora');
    const sft = cli(['sft', '--model', modelDir, '--train', path.join(work, 'sft.jsonl'), '--output', output, '--max-steps', '2', '--batch-size', '4', '--learning-rate', '0.01', '--lora-r', '2', '--quantize', 'nf4']);
    expect(sft.status).toBe(0);
    expect(sft.stdout).toMatch(/^sft: steps=2 loss=\d+\.\d+ quantize=nf4 saved=adapter output=.*qlora\n$/);
    // plain lines (no bar redrawn with \r or cursor escapes), the last one at 2/2
    expect(sft.stderr).toMatch(/^sft 2\/2 \| loss \d+\.\d+ \| lr \S+ \| \d+ tok\/s/m);
    expect(sft.stderr).not.toMatch(/[\r\u001b]/);
    const files = await fs.readdir(output);
    for (const name of ['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'sft_metrics.jsonl']) expect(files).toContain(name);
    expect(files).not.toContain('model.safetensors');

    // The adapter was trained on the 4-bit base: on that base it changes the logits.
    const logits = (model: CausalLM): Float32Array => tf.tidy(() => (model.forward({ inputIds: tf.tensor2d([[5, 6, 7, 8]], [1, 4], 'int32') }).logits as tf.Tensor).dataSync() as Float32Array);
    const model = await loadCausalLM(modelDir);
    try {
      quantizeModel(model, { quantType: 'nf4' });
      const base = logits(model);
      await loadAdapter(model, output);
      const adapted = logits(model);
      expect(Math.max(...adapted.map((value, i) => Math.abs(value - (base[i] as number))))).toBeGreaterThan(1e-4);
    } finally {
      model.dispose();
    }

    const quiet = cli(['sft', '--model', modelDir, '--train', path.join(work, 'sft.jsonl'), '--output', path.join(work, 'quiet'), '--max-steps', '1', '--batch-size', '4', '--progress', 'false']);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toMatch(/^sft \d/m); // no progress at all
  }, 120_000);

  it('sft --quantize without --lora-r, or of an unknown type, is a usage error', async () => {
    const base = ['sft', '--model', modelDir, '--train', path.join(work, 'sft.jsonl'), '--output', path.join(work, 'never')];
    expectOneLineError(await cliInProcess([...base, '--quantize', 'nf4']), 2, /--quantize needs --lora-r/);
    expectOneLineError(await cliInProcess([...base, '--quantize', 'int8', '--lora-r', '2']), 2, /--quantize must be one of nf4, fp4, got "int8"/);
    await expect(fs.access(path.join(work, 'never'))).rejects.toThrow();
  }, 30_000);
});
