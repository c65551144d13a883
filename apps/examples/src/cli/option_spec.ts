import { ConfigError } from '@rlhfjs/core';

export type OptionKind = 'string' | 'path' | 'integer' | 'number' | 'boolean';

/** One option of a subcommand: its flag, its key in a `--config` file (camelCase or kebab-case) and its default. */
export interface OptionSpec {
  /** camelCase key, as commander names it and as a config file may spell it. */
  readonly key: string;
  /** Commander flag, e.g. `--max-new-tokens <n>` or `--do-sample`. */
  readonly flag: string;
  readonly description: string;
  readonly kind: OptionKind;
  /** Default value; `undefined` means "not set" (and required options have none). */
  readonly defaultValue?: string | number | boolean;
  readonly required?: boolean;
  readonly choices?: readonly string[];
  /** Inclusive lower bound for numbers. */
  readonly min?: number;
  /** Exclusive lower bound for numbers. */
  readonly greaterThan?: number;
  /** Inclusive upper bound for numbers. */
  readonly max?: number;
}

export type OptionValues = Readonly<Record<string, string | number | boolean | undefined>>;

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (char) => `-${char.toLowerCase()}`);
}

/** Converts one raw value (a flag's string or a config file's JSON value) to the option's kind; pushes a problem if it cannot. */
function coerce(spec: OptionSpec, raw: unknown, name: string, problems: string[]): string | number | boolean | undefined {
  switch (spec.kind) {
    case 'string':
    case 'path': {
      if (typeof raw !== 'string' && typeof raw !== 'number') {
        problems.push(`${name} must be a string, got ${JSON.stringify(raw)}`);
        return undefined;
      }
      const text = String(raw);
      if (spec.choices !== undefined && !spec.choices.includes(text)) {
        problems.push(`${name} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(text)}`);
        return undefined;
      }
      if (text === '') {
        problems.push(`${name} must not be empty`);
        return undefined;
      }
      return text;
    }
    case 'integer':
    case 'number': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
      if (!Number.isFinite(value) || (spec.kind === 'integer' && !Number.isSafeInteger(value))) {
        problems.push(`${name} must be ${spec.kind === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`);
        return undefined;
      }
      if (spec.min !== undefined && value < spec.min) problems.push(`${name} must be >= ${spec.min}, got ${value}`);
      else if (spec.greaterThan !== undefined && !(value > spec.greaterThan)) problems.push(`${name} must be > ${spec.greaterThan}, got ${value}`);
      else if (spec.max !== undefined && value > spec.max) problems.push(`${name} must be <= ${spec.max}, got ${value}`);
      return value;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'false') return raw === 'true';
      problems.push(`${name} must be true or false, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    default: {
      const unreachable: never = spec.kind;
      return unreachable;
    }
  }
}

/**
 * Resolves a subcommand's options: defaults, overridden by the config file, overridden by flags given on the
 * command line. Unknown config keys, bad values and missing required options are all collected into one
 * `ConfigError` (the CLI prints it and exits 2). The result is frozen.
 */
export function resolveCommandOptions(
  command: string,
  specs: readonly OptionSpec[],
  cliValues: Readonly<Record<string, unknown>>,
  fileValues: Readonly<Record<string, unknown>>,
  configFile?: string,
): OptionValues {
  const problems: string[] = [];
  const byKey = new Map<string, OptionSpec>();
  for (const spec of specs) {
    byKey.set(spec.key, spec);
    byKey.set(kebab(spec.key), spec);
  }
  const fromFile = new Map<string, unknown>();
  for (const [key, value] of Object.entries(fileValues)) {
    const spec = byKey.get(key);
    if (spec === undefined || spec.key === 'config') problems.push(`${configFile ?? 'config file'}: unknown key "${key}" for "${command}" (known: ${specs.filter((s) => s.key !== 'config').map((s) => kebab(s.key)).join(', ')})`);
    else fromFile.set(spec.key, value);
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const spec of specs) {
    let value: string | number | boolean | undefined = spec.defaultValue;
    if (fromFile.has(spec.key)) value = coerce(spec, fromFile.get(spec.key), `${configFile ?? 'config file'}: "${kebab(spec.key)}"`, problems);
    if (cliValues[spec.key] !== undefined) value = coerce(spec, cliValues[spec.key], `--${kebab(spec.key)}`, problems);
    if (value === undefined && spec.required === true) problems.push(`--${kebab(spec.key)} is required (or set "${kebab(spec.key)}" in --config)`);
    values[spec.key] = value;
  }
  if (problems.length > 0) throw new ConfigError(`rlhfjs ${command}`, problems);
  return Object.freeze(values);
}

/** Help text of an option: its description and default. */
export function optionHelp(spec: OptionSpec): string {
  const parts = [spec.description];
  if (spec.choices !== undefined) parts.push(`(choices: ${spec.choices.join(', ')})`);
  if (spec.required === true) parts.push('(required)');
  else parts.push(`(default: ${spec.defaultValue === undefined ? 'none' : JSON.stringify(spec.defaultValue)})`);
  return parts.join(' ');
}

export function stringOption(values: OptionValues, key: string): string | undefined {
  const value = values[key];
  return typeof value === 'string' ? value : undefined;
}

export function numberOption(values: OptionValues, key: string): number {
  const value = values[key];
  if (typeof value !== 'number') throw new ConfigError('rlhfjs', [`internal: option ${key} is not a number`]);
  return value;
}

/** Several number options at once, under their own keys (each must be a number: resolved with a default). */
export function numberOptions<K extends string>(values: OptionValues, keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, numberOption(values, key)])) as Record<K, number>;
}
