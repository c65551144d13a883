import { ConfigError } from '@rlhfjs/core';
import { REDUCE_OPS } from './reduce_op';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === 'object') return JSON.stringify(value)?.slice(0, 60) ?? typeof value;
  return `${typeof value} ${String(value).slice(0, 60)}`;
}

/**
 * The problems with a collective's arguments, checked on the calling rank before anything is sent, so that a
 * wrong argument is a `ConfigError` naming it (and the group keeps working) instead of a failure on the wire.
 */
export function collectiveArgumentProblems(arguments_: {
  readonly buffer?: { readonly value: unknown; readonly accepts: readonly string[] };
  readonly op?: unknown;
  readonly root?: { readonly value: unknown; readonly worldSize: number };
}): string[] {
  const problems: string[] = [];
  const { buffer, op, root } = arguments_;
  if (buffer !== undefined) {
    const name = ArrayBuffer.isView(buffer.value) ? buffer.value.constructor.name : undefined;
    if (name === undefined || !buffer.accepts.includes(name)) {
      problems.push(`buffer must be a ${buffer.accepts.join(' or ')}, got ${describe(buffer.value)}`);
    }
  }
  if (op !== undefined && !REDUCE_OPS.includes(op as never)) {
    problems.push(`op must be one of ${REDUCE_OPS.map((entry) => `'${entry}'`).join(', ')}, got ${describe(op)}`);
  }
  if (root !== undefined && !(Number.isInteger(root.value) && (root.value as number) >= 0 && (root.value as number) < root.worldSize)) {
    problems.push(`root must be an integer rank in [0, ${root.worldSize}), got ${describe(root.value)}`);
  }
  return problems;
}

/** A rejected promise with the `ConfigError`, or undefined when the arguments are fine. */
export function rejectBadArguments(where: string, problems: readonly string[]): Promise<never> | undefined {
  return problems.length === 0 ? undefined : Promise.reject(new ConfigError(where, problems));
}
