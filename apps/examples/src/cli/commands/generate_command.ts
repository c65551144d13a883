import { ConfigError, writeFileAtomic } from '@rlhfjs/core';
import { generateCompletions } from '../../pipeline/generate_completions';
import { numberOption, stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { readPrompts } from '../read_prompts';
import { loadPolicy } from './load_policy';
import { CONFIG_OPTION, GENERATION_OPTIONS } from './shared_options';

export const GENERATE_OPTIONS: readonly OptionSpec[] = [
  { key: 'model', flag: '--model <dir>', description: 'HF model directory', kind: 'path', required: true },
  { key: 'prompt', flag: '--prompt <text>', description: 'one prompt (or use --prompts-file)', kind: 'string' },
  { key: 'promptsFile', flag: '--prompts-file <file>', description: 'JSONL with a "prompt" field, or text with one prompt a line', kind: 'path' },
  { key: 'output', flag: '--output <file>', description: 'write JSONL {prompt, completion} here instead of stdout', kind: 'path' },
  ...GENERATION_OPTIONS,
  CONFIG_OPTION,
];

/** `rlhfjs generate`: completions for prompts, as JSON Lines `{prompt, completion}`. */
export async function runGenerate(options: OptionValues, write: (text: string) => void): Promise<void> {
  const prompt = stringOption(options, 'prompt');
  const promptsFile = stringOption(options, 'promptsFile');
  if ((prompt === undefined) === (promptsFile === undefined)) throw new ConfigError('rlhfjs generate', ['give exactly one of --prompt and --prompts-file']);
  const prompts = prompt !== undefined ? [prompt] : await readPrompts(promptsFile as string);
  const { model, tokenizer } = await loadPolicy(stringOption(options, 'model') as string, stringOption(options, 'tokenizer'));
  try {
    const completions = generateCompletions(model, tokenizer, prompts, {
      maxNewTokens: numberOption(options, 'maxNewTokens'),
      doSample: options['doSample'] === true,
      temperature: numberOption(options, 'temperature'),
      topK: numberOption(options, 'topK'),
      topP: numberOption(options, 'topP'),
      seed: numberOption(options, 'seed'),
      batchSize: numberOption(options, 'batchSize'),
    });
    const lines = prompts.map((text, i) => JSON.stringify({ prompt: text, completion: completions[i] })).join('\n') + '\n';
    const output = stringOption(options, 'output');
    if (output === undefined) write(lines);
    else await writeFileAtomic(output, lines);
  } finally {
    model.dispose();
  }
}
