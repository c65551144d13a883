import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { ConfigError, TokenizerError } from '../errors/errors';

/**
 * Limits on one chat template rendering. `@huggingface/jinja` runs a template without any: `range(1e9)` builds a
 * billion-element array (the process dies), nested loops run for ever, and a string that doubles in a loop fills
 * the heap. A real chat template needs a few hundred evaluation steps a message.
 */
export interface TemplateLimitOptions {
  /** Most expression and statement evaluations in one rendering; default 500,000 (about 15,000 messages of a ChatML template; a runaway loop stops within seconds). */
  readonly maxSteps?: number;
  /** Longest string (in UTF-16 code units) or list any step may produce, the output included; default 16 Mi. */
  readonly maxOutputChars?: number;
}

export interface TemplateLimitConfig {
  readonly maxSteps: number;
  readonly maxOutputChars: number;
}

export const DEFAULT_TEMPLATE_MAX_STEPS = 500_000;
export const DEFAULT_TEMPLATE_MAX_OUTPUT_CHARS = 16 * 1024 * 1024;

export function resolveTemplateLimitConfig(options: TemplateLimitOptions = {}): TemplateLimitConfig {
  const maxSteps = options.maxSteps ?? DEFAULT_TEMPLATE_MAX_STEPS;
  const maxOutputChars = options.maxOutputChars ?? DEFAULT_TEMPLATE_MAX_OUTPUT_CHARS;
  const problems: string[] = [];
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 1) problems.push(`maxSteps must be a positive integer, got ${String(maxSteps)}`);
  if (!Number.isSafeInteger(maxOutputChars) || maxOutputChars < 1) {
    problems.push(`maxOutputChars must be a positive integer, got ${String(maxOutputChars)}`);
  }
  if (problems.length > 0) throw new ConfigError('resolveTemplateLimitConfig', problems);
  return Object.freeze({ maxSteps, maxOutputChars });
}

/** Thrown inside the interpreter to stop it; turned into a TokenizerError by `renderBoundedTemplate`. */
class TemplateStop extends Error {}

type Evaluate = (statement: unknown, environment: Environment) => { type: string; value: unknown };

/**
 * Renders a compiled template under `limits`, with the globals `@huggingface/jinja` gives every template
 * (`raise_exception`, `range`, `strftime_now`, the boolean and none spellings). Any failure — a limit passed,
 * `raise_exception('msg')`, an error of the interpreter — is a TokenizerError that names the template (`name`).
 */
export function renderBoundedTemplate(
  template: Template,
  context: Readonly<Record<string, unknown>>,
  name: string,
  limits: TemplateLimitConfig = resolveTemplateLimitConfig(),
): string {
  const environment = new Environment();
  for (const [key, value] of Object.entries({ false: false, true: true, none: null, False: false, True: true, None: null })) {
    environment.set(key, value);
  }
  environment.set('raise_exception', (message: unknown) => {
    throw new TemplateStop(`raise_exception: ${String(message)}`);
  });
  environment.set('range', (start: number, stop?: number, step = 1) => boundedRange(start, stop, step, limits.maxSteps));
  environment.set('strftime_now', (format: unknown) => strftime(new Date(), String(format)));
  for (const [key, value] of Object.entries(context)) environment.set(key, value);

  const interpreter = new Interpreter(environment);
  // The interpreter calls `this.evaluate` for every statement and expression, loops and macro calls included, so
  // an own-property wrapper sees every step without touching the library's prototype. A loop costs one step per
  // element of its iterable (so loops with empty bodies are counted too).
  const instance = interpreter as unknown as { evaluate: Evaluate };
  const evaluate = instance.evaluate.bind(interpreter);
  const loopIterables = new WeakSet<object>();
  let steps = 0;
  const spend = (count: number): void => {
    steps += count;
    if (steps > limits.maxSteps) throw new TemplateStop(`rendering passed maxSteps = ${limits.maxSteps} evaluation steps (a loop too long?)`);
  };
  instance.evaluate = (statement, scope) => {
    spend(1);
    const node = statement as { type?: string; iterable?: { type?: string; lhs?: object } } | null;
    if (node?.type === 'For' && node.iterable !== undefined) {
      loopIterables.add(node.iterable.type === 'SelectExpression' && node.iterable.lhs !== undefined ? node.iterable.lhs : node.iterable);
    }
    const value = evaluate(statement, scope);
    const payload = value.value;
    if (typeof payload === 'string' && payload.length > limits.maxOutputChars) {
      throw new TemplateStop(`a string of ${payload.length} characters passed maxOutputChars = ${limits.maxOutputChars}`);
    }
    if (Array.isArray(payload) && payload.length > limits.maxOutputChars) {
      throw new TemplateStop(`a list of ${payload.length} elements passed maxOutputChars = ${limits.maxOutputChars}`);
    }
    if (typeof payload === 'number' && !Number.isFinite(payload)) {
      throw new TemplateStop(`arithmetic gave ${payload} (a division by zero or an overflow)`);
    }
    if (typeof statement === 'object' && statement !== null && loopIterables.has(statement)) {
      spend(Array.isArray(payload) ? payload.length : payload instanceof Map ? payload.size : 0);
    }
    return value;
  };
  try {
    const result = interpreter.run(template.parsed);
    return String(result.value);
  } catch (error) {
    const reason = error instanceof TemplateStop ? error.message : `${error instanceof Error ? error.name : 'Error'}: ${String((error as Error)?.message ?? error)}`;
    throw new TokenizerError(`chat template ${name}: ${reason}`, { cause: error });
  }
}

/** Python's `range`, refusing more than `maxLength` elements before building any. */
function boundedRange(start: number, stop: number | undefined, step: number, maxLength: number): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  for (const [label, value] of [['start', from], ['stop', to], ['step', step]] as const) {
    if (!Number.isSafeInteger(value)) throw new TemplateStop(`range(): ${label} must be an integer, got ${String(value)}`);
  }
  if (step === 0) throw new TemplateStop('range(): step must not be zero');
  const length = Math.max(0, Math.ceil((to - from) / step));
  if (length > maxLength) throw new TemplateStop(`range() of ${length} elements passes maxSteps = ${maxLength}`);
  return Array.from({ length }, (_, index) => from + index * step);
}

/** The subset of Python's `strftime` that chat templates use (`%Y %m %d %b %B %H %M %%`), in local time. */
function strftime(date: Date, format: string): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return format.replace(/%[YmdbBHM%]/g, (token) => {
    switch (token) {
      case '%Y':
        return String(date.getFullYear());
      case '%m':
        return pad(date.getMonth() + 1);
      case '%d':
        return pad(date.getDate());
      case '%b':
        return new Intl.DateTimeFormat('en-US', { month: 'short' }).format(date);
      case '%B':
        return new Intl.DateTimeFormat('en-US', { month: 'long' }).format(date);
      case '%H':
        return pad(date.getHours());
      case '%M':
        return pad(date.getMinutes());
      default:
        return '%';
    }
  });
}
