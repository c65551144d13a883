/**
 * A seeded, tiny supervised fine-tuning corpus of arithmetic questions, for tests and the demo: records like
 * `{prompt: "What is 12 + 7?", completion: " 19."}`. The same seed and options always give the same records.
 */
import { ConfigError } from '../errors/errors';
import type { PlainPromptCompletionRecord } from './records';
import { createRng } from './rng';

export type ArithmeticOperation = '+' | '-' | '*';

export interface ArithmeticCorpusOptions {
  readonly seed: number;
  readonly count: number;
  /** Operands are drawn uniformly from 0 … maxOperand; default 20. */
  readonly maxOperand?: number;
  /** Default all three: '+', '-', '*'. */
  readonly operations?: readonly ArithmeticOperation[];
}

export interface ArithmeticCorpusConfig {
  readonly seed: number;
  readonly count: number;
  readonly maxOperand: number;
  readonly operations: readonly ArithmeticOperation[];
}

const ALL_OPERATIONS: readonly ArithmeticOperation[] = Object.freeze(['+', '-', '*']);

export function resolveArithmeticCorpusConfig(options: ArithmeticCorpusOptions): ArithmeticCorpusConfig {
  const config = {
    seed: options.seed,
    count: options.count,
    maxOperand: options.maxOperand ?? 20,
    operations: Object.freeze([...(options.operations ?? ALL_OPERATIONS)]),
  };
  const problems: string[] = [];
  if (!Number.isSafeInteger(config.seed)) problems.push(`seed must be a safe integer, got ${String(config.seed)}`);
  if (!Number.isSafeInteger(config.count) || config.count < 0) {
    problems.push(`count must be a non-negative integer, got ${String(config.count)}`);
  }
  if (!Number.isSafeInteger(config.maxOperand) || config.maxOperand < 0 || config.maxOperand > 1_000_000) {
    problems.push(`maxOperand must be an integer in [0, 1000000], got ${String(config.maxOperand)}`);
  }
  if (config.operations.length === 0) problems.push('operations must not be empty');
  for (const operation of config.operations) {
    if (!ALL_OPERATIONS.includes(operation)) problems.push(`unknown operation ${JSON.stringify(operation)}`);
  }
  if (problems.length > 0) throw new ConfigError('generateArithmeticCorpus', problems);
  return Object.freeze(config);
}

export function generateArithmeticCorpus(options: ArithmeticCorpusOptions): PlainPromptCompletionRecord[] {
  const { seed, count, maxOperand, operations } = resolveArithmeticCorpusConfig(options);
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const left = rng.nextInt(maxOperand + 1);
    const right = rng.nextInt(maxOperand + 1);
    const operation = operations[rng.nextInt(operations.length)] as ArithmeticOperation;
    return Object.freeze({
      kind: 'prompt_completion',
      style: 'plain',
      prompt: `What is ${left} ${operation} ${right}?`,
      completion: ` ${apply(operation, left, right)}.`,
    });
  });
}

function apply(operation: ArithmeticOperation, left: number, right: number): number {
  switch (operation) {
    case '+':
      return left + right;
    case '-':
      return left - right;
    case '*':
      return left * right;
    default: {
      const unreachable: never = operation;
      throw new Error(`unreachable ${String(unreachable)}`);
    }
  }
}
