import { DataError } from '@rlhfjs/core';

/**
 * The built-in demo task: three kinds of short instructions whose correct answer code can check.
 *
 *   add       "Add 7 and 12."          → 19      (operands 0..20)
 *   multiply  "What is 7 times 6?"     → 42      (operands 2..9)
 *   reverse   "Spell 'cat' backwards." → tac     (a word from TASK_WORDS)
 *
 * The prompt space is finite (441 + 64 + 40 = 545 prompts) so that a tiny model trained for minutes on a CPU can
 * learn it; what the RLHF stages must learn on top of SFT is to answer correctly *and* in the polite format.
 */
export type TaskKind = 'add' | 'multiply' | 'reverse';

export const TASK_KINDS: readonly TaskKind[] = Object.freeze(['add', 'multiply', 'reverse']);

export const ADD_RANGE = Object.freeze({ min: 0, max: 20 });
export const MULTIPLY_RANGE = Object.freeze({ min: 2, max: 9 });

/** Words to spell backwards: short, lower-case, none a palindrome (so the unreversed word is always wrong). */
export const TASK_WORDS: readonly string[] = Object.freeze([
  'cat', 'dog', 'sun', 'map', 'pen', 'cup', 'hat', 'box', 'red', 'fish',
  'bird', 'tree', 'milk', 'rain', 'star', 'frog', 'lamp', 'door', 'book', 'king',
  'ship', 'moon', 'cake', 'leaf', 'wolf', 'bear', 'gold', 'salt', 'rock', 'sand',
  'jam', 'owl', 'bus', 'van', 'fox', 'ant', 'egg', 'ink', 'web', 'zip',
]);

/** One instruction of the task: its text and the answer the gold scorer expects. */
export interface TaskPrompt {
  readonly kind: TaskKind;
  readonly prompt: string;
  readonly answer: string;
}

export function addPrompt(left: number, right: number): TaskPrompt {
  return { kind: 'add', prompt: `Add ${left} and ${right}.`, answer: String(left + right) };
}

export function multiplyPrompt(left: number, right: number): TaskPrompt {
  return { kind: 'multiply', prompt: `What is ${left} times ${right}?`, answer: String(left * right) };
}

export function reversePrompt(word: string): TaskPrompt {
  return { kind: 'reverse', prompt: `Spell '${word}' backwards.`, answer: [...word].reverse().join('') };
}

const ADD_PATTERN = /^Add (\d+) and (\d+)\.$/;
const MULTIPLY_PATTERN = /^What is (\d+) times (\d+)\?$/;
const REVERSE_PATTERN = /^Spell '([a-z]+)' backwards\.$/;

/**
 * Recognises a task prompt (surrounding whitespace ignored) and returns it with its expected answer, or null when
 * the text is not one of the task's prompts. Any operands and any lower-case word are accepted, not only those the
 * generator draws, so hand-written prompts in the same templates are judged too.
 */
export function tryParseTaskPrompt(text: string): TaskPrompt | null {
  const prompt = text.trim();
  let match = ADD_PATTERN.exec(prompt);
  if (match !== null) return addPrompt(Number(match[1]), Number(match[2]));
  match = MULTIPLY_PATTERN.exec(prompt);
  if (match !== null) return multiplyPrompt(Number(match[1]), Number(match[2]));
  match = REVERSE_PATTERN.exec(prompt);
  if (match !== null) return reversePrompt(match[1] as string);
  return null;
}

/** As `tryParseTaskPrompt`, but a text that is not a task prompt is a `DataError`. */
export function parseTaskPrompt(text: string): TaskPrompt {
  const parsed = tryParseTaskPrompt(text);
  if (parsed === null) {
    throw new DataError(
      `parseTaskPrompt: ${JSON.stringify(text.slice(0, 80))} is not a task prompt ("Add A and B.", "What is A times B?", "Spell 'word' backwards.")`,
      { field: 'prompt' },
    );
  }
  return parsed;
}

/** Every prompt of the task, in a fixed order. */
export function allTaskPrompts(): TaskPrompt[] {
  const prompts: TaskPrompt[] = [];
  for (let a = ADD_RANGE.min; a <= ADD_RANGE.max; a++) for (let b = ADD_RANGE.min; b <= ADD_RANGE.max; b++) prompts.push(addPrompt(a, b));
  for (let a = MULTIPLY_RANGE.min; a <= MULTIPLY_RANGE.max; a++) for (let b = MULTIPLY_RANGE.min; b <= MULTIPLY_RANGE.max; b++) prompts.push(multiplyPrompt(a, b));
  for (const word of TASK_WORDS) prompts.push(reversePrompt(word));
  return prompts;
}
