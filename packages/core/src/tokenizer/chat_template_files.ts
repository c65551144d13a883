import { promises as fs } from 'fs';
import * as path from 'path';
import { TokenizerError } from '../errors/errors';

/** The file transformers (≥ 4.47, and 5 by default) saves the chat template in, beside tokenizer_config.json. */
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/**
 * The template to render from a `chat_template` value of tokenizer_config.json: a string, or the list form
 * `[{name, template}, ...]`, from which transformers' `apply_chat_template` picks the one named "default" when no
 * name is given. Anything else is a `TokenizerError` naming `source`.
 */
export function selectChatTemplate(value: unknown, source: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) {
    throw new TokenizerError(`${source}: chat_template must be a string or a list of {name, template}, got ${typeof value}`);
  }
  const names: string[] = [];
  let chosen: string | null = null;
  value.forEach((entry: unknown, index) => {
    const record = entry as { name?: unknown; template?: unknown } | null;
    if (typeof record !== 'object' || record === null || typeof record.name !== 'string' || typeof record.template !== 'string') {
      throw new TokenizerError(`${source}: chat_template[${index}] must be {"name": string, "template": string}, got ${JSON.stringify(entry)}`);
    }
    names.push(record.name);
    if (record.name === 'default') chosen = record.template;
  });
  if (chosen === null) {
    throw new TokenizerError(`${source}: chat_template lists templates ${JSON.stringify(names)} but none named "default" (the one rendered when no name is given)`);
  }
  return chosen;
}

/** `chat_template.jinja` of a tokenizer directory, or null when there is none. */
export async function readChatTemplateFile(directory: string): Promise<string | null> {
  const file = path.join(directory, CHAT_TEMPLATE_FILE);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TokenizerError(`loadTokenizer: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new TokenizerError(`loadTokenizer: ${file} is not valid UTF-8`, { cause: error });
  }
}
