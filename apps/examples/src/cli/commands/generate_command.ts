import { ConfigError, writeFileAtomic } from '@rlhfjs/core';
import { generateCompletions } from '../../pipeline/generate_completions';
import { numberOption, stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { parseChatPrompt, readChatPrompts } from '../read_chat_prompts';
import { readPrompts } from '../read_prompts';
import { loadPolicy } from './load_policy';
import { CONFIG_OPTION, GENERATION_OPTIONS } from './shared_options';

export const GENERATE_OPTIONS: readonly OptionSpec[] = [
  { key: 'model', flag: '--model <dir>', description: 'HF model directory', kind: 'path', required: true },
  { key: 'prompt', flag: '--prompt <text>', description: 'one prompt (or use --prompts-file)', kind: 'string' },
  { key: 'promptsFile', flag: '--prompts-file <file>', description: 'JSONL with a "prompt" field, or text with one prompt a line', kind: 'path' },
  { key: 'output', flag: '--output <file>', description: 'write JSONL {prompt, completion} here instead of stdout', kind: 'path' },
  {
    key: 'chat',
    flag: '--chat',
    description: 'prompts are conversations: --prompt is a JSON list of {role, content} messages (plain text: one user message), --prompts-file JSONL of {"messages": [...]}; rendered with the chat template',
    kind: 'boolean',
    defaultValue: false,
  },
  ...GENERATION_OPTIONS,
  CONFIG_OPTION,
];

/** `rlhfjs generate`: completions for prompts (or, with `--chat`, conversations), as JSON Lines `{prompt, completion}`. */
export async function runGenerate(options: OptionValues, write: (text: string) => void): Promise<void> {
  const prompt = stringOption(options, 'prompt');
  const promptsFile = stringOption(options, 'promptsFile');
  if ((prompt === undefined) === (promptsFile === undefined)) throw new ConfigError('rlhfjs generate', ['give exactly one of --prompt and --prompts-file']);
  const chat = options['chat'] === true;
  const conversations = !chat ? null : prompt !== undefined ? [parseChatPrompt(prompt)] : await readChatPrompts(promptsFile as string);
  const { model, tokenizer } = await loadPolicy(stringOption(options, 'model') as string, stringOption(options, 'tokenizer'));
  try {
    // With --chat the template adds the special tokens itself (as transformers' apply_chat_template then encode).
    const prompts = conversations?.map((messages) => tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true })) ?? (prompt !== undefined ? [prompt] : await readPrompts(promptsFile as string));
    const completions = generateCompletions(model, tokenizer, prompts, {
      addSpecialTokens: !chat,
      maxNewTokens: numberOption(options, 'maxNewTokens'),
      doSample: options['doSample'] === true,
      temperature: numberOption(options, 'temperature'),
      topK: numberOption(options, 'topK'),
      topP: numberOption(options, 'topP'),
      seed: numberOption(options, 'seed'),
      batchSize: numberOption(options, 'batchSize'),
    });
    // Chat output is TRL's conversational prompt-completion record, usable as SFT data as it is.
    const records = prompts.map((text, i) =>
      conversations === null ? { prompt: text, completion: completions[i] } : { prompt: conversations[i], completion: [{ role: 'assistant', content: completions[i] }] },
    );
    const lines = records.map((record) => JSON.stringify(record)).join('\n') + '\n';
    const output = stringOption(options, 'output');
    if (output === undefined) write(lines);
    else await writeFileAtomic(output, lines);
  } finally {
    model.dispose();
  }
}
