import { ConfigError } from '@rlhfjs/core';
import { promises as fs } from 'fs';
import * as YAML from 'yaml';

/** Reads a `--config` file: JSON (`.json`) or YAML (anything else); it must hold one mapping of option → value. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError('--config', [`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = file.toLowerCase().endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (error) {
    const first = (error as Error).message.split('\n')[0] ?? '';
    throw new ConfigError('--config', [`${file} is not valid ${file.toLowerCase().endsWith('.json') ? 'JSON' : 'YAML'}: ${first}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('--config', [`${file} must hold a mapping of option names to values, got ${Array.isArray(parsed) ? 'a list' : typeof parsed}`]);
  }
  return parsed as Record<string, unknown>;
}
