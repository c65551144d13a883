import { DataError } from '@rlhfjs/core';
import { promises as fs } from 'fs';

/**
 * Prompts from a file: JSON Lines with a string `prompt` field (TRL's prompt-only format, also the SFT and
 * preference files), or, for any other extension, one prompt per non-empty line.
 */
export async function readPrompts(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new DataError(`cannot read prompts: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { file }, { code: 'DATA_READ' });
  }
  const lines = text.split(/\r?\n/);
  if (!/\.jsonl?$/i.test(file)) return lines.map((line) => line.trim()).filter((line) => line !== '');
  const prompts: string[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new DataError('is not valid JSON', { file, line: index + 1 });
    }
    const prompt = (record as { prompt?: unknown } | null)?.prompt;
    if (typeof prompt !== 'string') throw new DataError('needs a string "prompt"', { file, line: index + 1, field: 'prompt' });
    prompts.push(prompt);
  });
  return prompts;
}
