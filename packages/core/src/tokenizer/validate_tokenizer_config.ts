import { TokenizerError } from '../errors/errors';

const SIDES = ['left', 'right'];
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'pad_token', 'unk_token', 'sep_token', 'cls_token', 'mask_token'];
const BOOLEAN_KEYS = ['add_bos_token', 'add_eos_token', 'clean_up_tokenization_spaces', 'legacy'];

/**
 * Checks the values of a `tokenizer_config.json` that rlhfjs reads, as transformers would use them, so that a
 * value like `padding_side: "middle"` is refused instead of silently taken as 'right'. Absent and `null` values
 * are fine (the defaults apply); keys rlhfjs does not read are not looked at. Every problem is collected into one
 * TokenizerError that names the file (`file`) and each key.
 */
export function validateTokenizerConfig(config: unknown, file: string): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TokenizerError(`${file}: expected a JSON object, got ${describe(config)}`);
  }
  const record = config as Readonly<Record<string, unknown>>;
  const problems: string[] = [];
  const present = (key: string): boolean => record[key] !== undefined && record[key] !== null;
  for (const key of ['padding_side', 'truncation_side']) {
    if (present(key) && !SIDES.includes(record[key] as string)) {
      problems.push(`key "${key}" must be "left" or "right", got ${describe(record[key])}`);
    }
  }
  if (present('model_max_length')) {
    const value = record['model_max_length'];
    if (typeof value !== 'number' || !(value >= 1)) problems.push(`key "model_max_length" must be a number ≥ 1, got ${describe(value)}`);
  }
  for (const key of SPECIAL_TOKEN_KEYS) {
    if (!present(key)) continue;
    const value = record[key];
    const content = typeof value === 'object' && value !== null ? (value as { content?: unknown }).content : value;
    if (typeof content !== 'string') {
      problems.push(`key "${key}" must be a string or an object with a string "content", got ${describe(value)}`);
    }
  }
  for (const key of BOOLEAN_KEYS) {
    if (present(key) && typeof record[key] !== 'boolean') problems.push(`key "${key}" must be true or false, got ${describe(record[key])}`);
  }
  if (present('chat_template')) {
    const value = record['chat_template'];
    const named = (entry: unknown): boolean =>
      typeof entry === 'object' && entry !== null && typeof (entry as { name?: unknown }).name === 'string' && typeof (entry as { template?: unknown }).template === 'string';
    if (typeof value !== 'string' && !(Array.isArray(value) && value.every(named))) {
      problems.push(`key "chat_template" must be a string (or a list of {name, template}), got ${describe(value)}`);
    }
  }
  if (problems.length > 0) {
    throw new TokenizerError(`${file}: ${problems.length === 1 ? problems[0] : `\n  - ${problems.join('\n  - ')}`}`);
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
