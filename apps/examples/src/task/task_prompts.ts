import { DataError } from '@rlhfjs/core';

/**
 * The built-in demo task: three kinds of short word-formatting requests whose correct answer code can check.
 *
 *   reverse   "Spell 'cat' backwards."                    → tac
 *   upper     "Write 'cat' in capitals."                  → CAT
 *   title     "Write 'cat' with a capital first letter."  → Cat
 *
 * The prompt space is finite (3 × 40 words = 120 prompts) so that a tiny model trained for minutes on a CPU can learn
 * it; what the RLHF stages must learn on top of SFT is to answer correctly *and* in the polite format.
 *
 * (The first version of the task asked for sums and products of small numbers. A 0.7 M-parameter reward model could
 * not learn to check arithmetic from preference pairs: held-out accuracy stayed at 0.70–0.76 against a label-noise
 * bound of 0.87 whatever the operand range, data size, learning rate or initialisation. Checking a word transform,
 * which the three kinds here need, it learns to within the noise.)
 */
export type TaskKind = 'reverse' | 'upper' | 'title';

export const TASK_KINDS: readonly TaskKind[] = Object.freeze(['reverse', 'upper', 'title']);

/** The words the requests are about: short, lower-case, none a palindrome (so the unreversed word is always wrong). */
export const TASK_WORDS: readonly string[] = Object.freeze([
  'cat', 'dog', 'sun', 'map', 'pen', 'cup', 'hat', 'box', 'red', 'fish',
  'bird', 'tree', 'milk', 'rain', 'star', 'frog', 'lamp', 'door', 'book', 'king',
  'ship', 'moon', 'cake', 'leaf', 'wolf', 'bear', 'gold', 'salt', 'rock', 'sand',
  'jam', 'owl', 'bus', 'van', 'fox', 'ant', 'egg', 'ink', 'web', 'zip',
]);

/** One instruction of the task: its text and the answer the gold scorer expects. */
export interface TaskPrompt {
  readonly kind: TaskKind;
  /** The lower-case word the request is about. */
  readonly word: string;
  readonly prompt: string;
  readonly answer: string;
}

export function reversePrompt(word: string): TaskPrompt {
  return { kind: 'reverse', word, prompt: `Spell '${word}' backwards.`, answer: [...word].reverse().join('') };
}

export function upperPrompt(word: string): TaskPrompt {
  return { kind: 'upper', word, prompt: `Write '${word}' in capitals.`, answer: word.toUpperCase() };
}

export function titlePrompt(word: string): TaskPrompt {
  return { kind: 'title', word, prompt: `Write '${word}' with a capital first letter.`, answer: titleCase(word) };
}

/** The word with its first letter upper-cased ("cat" → "Cat"). */
export function titleCase(word: string): string {
  return word.length === 0 ? word : (word[0] as string).toUpperCase() + word.slice(1);
}

/** The prompt of a kind about a word. */
export function taskPrompt(kind: TaskKind, word: string): TaskPrompt {
  switch (kind) {
    case 'reverse':
      return reversePrompt(word);
    case 'upper':
      return upperPrompt(word);
    case 'title':
      return titlePrompt(word);
    default: {
      const unreachable: never = kind;
      return unreachable;
    }
  }
}

const PATTERNS: readonly (readonly [TaskKind, RegExp])[] = [
  ['reverse', /^Spell '([a-z]+)' backwards\.$/],
  ['upper', /^Write '([a-z]+)' in capitals\.$/],
  ['title', /^Write '([a-z]+)' with a capital first letter\.$/],
];

/**
 * Recognises a task prompt (surrounding whitespace ignored) and returns it with its expected answer, or null when
 * the text is not one of the task's prompts. Any lower-case word is accepted, not only those the generator draws,
 * so hand-written prompts in the same templates are judged too.
 */
export function tryParseTaskPrompt(text: string): TaskPrompt | null {
  const prompt = text.trim();
  for (const [kind, pattern] of PATTERNS) {
    const match = pattern.exec(prompt);
    if (match !== null) return taskPrompt(kind, match[1] as string);
  }
  return null;
}

/** As `tryParseTaskPrompt`, but a text that is not a task prompt is a `DataError`. */
export function parseTaskPrompt(text: string): TaskPrompt {
  const parsed = tryParseTaskPrompt(text);
  if (parsed === null) {
    throw new DataError(
      `parseTaskPrompt: ${JSON.stringify(text.slice(0, 80))} is not a task prompt ("Spell 'word' backwards.", "Write 'word' in capitals.", "Write 'word' with a capital first letter.")`,
      { field: 'prompt' },
    );
  }
  return parsed;
}

/** Every prompt of the task, in a fixed order. */
export function allTaskPrompts(): TaskPrompt[] {
  return TASK_KINDS.flatMap((kind) => TASK_WORDS.map((word) => taskPrompt(kind, word)));
}
