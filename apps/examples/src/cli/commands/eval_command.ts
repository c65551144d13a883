import { writeFileAtomic } from '@rlhfjs/core';
import * as path from 'path';
import { evaluateGold } from '../../pipeline/evaluate_gold';
import { TASK_DATA_FILES } from '../../task/task_data';
import { parseTaskPrompt } from '../../task/task_prompts';
import { numberOption, stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { readPrompts } from '../read_prompts';
import { loadPolicy } from './load_policy';
import { CONFIG_OPTION } from './shared_options';

/** The committed held-out prompts of the built-in task. */
export const DEFAULT_EVAL_PROMPTS = path.join(__dirname, '..', '..', '..', 'data', TASK_DATA_FILES.promptHeldout);

export const EVAL_OPTIONS: readonly OptionSpec[] = [
  { key: 'model', flag: '--model <dir>', description: 'HF model directory', kind: 'path', required: true },
  { key: 'tokenizer', flag: '--tokenizer <dir>', description: 'tokenizer directory; defaults to the model directory', kind: 'path' },
  { key: 'promptsFile', flag: '--prompts-file <file>', description: "task prompts to evaluate on (default: the built-in task's held-out prompts)", kind: 'path', defaultValue: DEFAULT_EVAL_PROMPTS },
  { key: 'limit', flag: '--limit <n>', description: 'evaluate on the first n prompts only (0: all)', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'maxNewTokens', flag: '--max-new-tokens <n>', description: 'tokens to generate at most', kind: 'integer', defaultValue: 24, min: 1 },
  { key: 'batchSize', flag: '--batch-size <n>', description: 'prompts generated together', kind: 'integer', defaultValue: 32, min: 1 },
  { key: 'output', flag: '--output <file>', description: 'also write the result (with every completion) as JSON here', kind: 'path' },
  CONFIG_OPTION,
];

/** `rlhfjs eval`: the gold score of a model's greedy completions on the task's held-out prompts. Prints one JSON line. */
export async function runEval(options: OptionValues, write: (text: string) => void): Promise<void> {
  const all = await readPrompts(stringOption(options, 'promptsFile') as string);
  const limit = numberOption(options, 'limit');
  const prompts = limit > 0 ? all.slice(0, limit) : all;
  for (const prompt of prompts) parseTaskPrompt(prompt); // a DataError before any generation if a prompt is not a task prompt
  const { model, tokenizer } = await loadPolicy(stringOption(options, 'model') as string, stringOption(options, 'tokenizer'));
  try {
    const result = evaluateGold(model, tokenizer, prompts, { maxNewTokens: numberOption(options, 'maxNewTokens'), batchSize: numberOption(options, 'batchSize') });
    const { goldScore, correct, wellFormed, polite, count } = result;
    write(`${JSON.stringify({ goldScore, correct, wellFormed, polite, count })}\n`);
    const output = stringOption(options, 'output');
    if (output !== undefined) await writeFileAtomic(output, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    model.dispose();
  }
}
