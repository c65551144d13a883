import type { Rng } from '@rlhfjs/core';
import { randomInteger } from './random_integer';
import { TASK_WORDS, taskPrompt, titleCase, type TaskPrompt } from './task_prompts';

/**
 * The ways a demonstrator answers a task prompt, from ideal to wrong, with the gold score each earns:
 *
 *   ideal          "The answer is tac. Thank you!"   1.0
 *   impolite       "The answer is tac."              0.5
 *   terse          "tac."                            0.5
 *   curt           "tac, obviously."                 0.5
 *   wrong_polite   "The answer is cat. Thank you!"   0.0
 *   wrong_terse    "atc."                            0.0
 */
export type ResponseStyle = 'ideal' | 'impolite' | 'terse' | 'curt' | 'wrong_polite' | 'wrong_terse';

export const RESPONSE_STYLES: readonly ResponseStyle[] = Object.freeze(['ideal', 'impolite', 'terse', 'curt', 'wrong_polite', 'wrong_terse']);


/** The word with two neighbouring letters swapped (the first pair that differs from a random start). */
function swapNeighbours(word: string, rng: Rng): string {
  const letters = [...word];
  const start = randomInteger(rng, 0, Math.max(0, letters.length - 2));
  for (let offset = 0; offset < letters.length - 1; offset++) {
    const i = (start + offset) % (letters.length - 1);
    if (letters[i] !== letters[i + 1]) {
      [letters[i], letters[i + 1]] = [letters[i + 1] as string, letters[i] as string];
      return letters.join('');
    }
  }
  return letters.reverse().join('');
}

/**
 * A plausible wrong answer, never equal to the right one:
 *   reverse  the word itself (not reversed), or the reversal with two letters swapped   ("cat", "atc")
 *   upper    the word unchanged, with only its first letter capital, or capitals with two letters swapped
 *   title    the word unchanged, in capitals, or with a capital first letter and two letters swapped
 * or, for every kind, the right transform of another word (a confused demonstrator answering a different request),
 * so that a reward model learns to check the word as well as the transform.
 */
export function wrongAnswer(task: TaskPrompt, rng: Rng): string {
  const word = task.word;
  const candidates: string[] = (() => {
    switch (task.kind) {
      case 'reverse':
        return [word, swapNeighbours(task.answer, rng)];
      case 'upper':
        return [word, titleCase(word), swapNeighbours(word, rng).toUpperCase()];
      case 'title':
        return [word, word.toUpperCase(), titleCase(swapNeighbours(word, rng))];
      default: {
        const unreachable: never = task.kind;
        return unreachable;
      }
    }
  })().filter((candidate) => candidate !== task.answer);
  if (rng.next() < 1 / 3) {
    const others = TASK_WORDS.filter((other) => other !== word);
    return taskPrompt(task.kind, others[randomInteger(rng, 0, others.length - 1)] as string).answer;
  }
  return candidates[randomInteger(rng, 0, candidates.length - 1)] as string;
}

/** The response text of one style (no leading space; the data writer adds the separator). */
export function styledResponse(task: TaskPrompt, style: ResponseStyle, rng: Rng): string {
  switch (style) {
    case 'ideal':
      return `The answer is ${task.answer}. Thank you!`;
    case 'impolite':
      return `The answer is ${task.answer}.`;
    case 'terse':
      return `${task.answer}.`;
    case 'curt':
      return `${task.answer}, obviously.`;
    case 'wrong_polite':
      return `The answer is ${wrongAnswer(task, rng)}. Thank you!`;
    case 'wrong_terse':
      return `${wrongAnswer(task, rng)}.`;
    default: {
      const unreachable: never = style;
      return unreachable;
    }
  }
}

/** Draws a style from weights (need not sum to 1). */
export function drawStyle(weights: Readonly<Record<ResponseStyle, number>>, rng: Rng): ResponseStyle {
  const total = RESPONSE_STYLES.reduce((sum, style) => sum + weights[style], 0);
  let u = rng.next() * total;
  for (const style of RESPONSE_STYLES) {
    u -= weights[style];
    if (u < 0) return style;
  }
  return RESPONSE_STYLES[RESPONSE_STYLES.length - 1] as ResponseStyle;
}
