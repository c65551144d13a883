import type { Rng } from '@rlhfjs/core';
import type { TaskPrompt } from './task_prompts';

/**
 * The ways a demonstrator answers a task prompt, from ideal to wrong, with the gold score each earns:
 *
 *   ideal          "The answer is 71. Thank you!"   1.0
 *   impolite       "The answer is 71."              0.5
 *   terse          "71."                            0.5
 *   curt           "71, obviously."                 0.5
 *   wrong_polite   "The answer is 70. Thank you!"   0.0
 *   wrong_terse    "70."                            0.0
 */
export type ResponseStyle = 'ideal' | 'impolite' | 'terse' | 'curt' | 'wrong_polite' | 'wrong_terse';

export const RESPONSE_STYLES: readonly ResponseStyle[] = Object.freeze(['ideal', 'impolite', 'terse', 'curt', 'wrong_polite', 'wrong_terse']);

function randomInteger(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng.next() * (max - min + 1));
}

/** A plausible wrong answer: off by 1..3 (or 10) for arithmetic; the word unreversed or with two letters swapped for spelling. */
export function wrongAnswer(task: TaskPrompt, rng: Rng): string {
  switch (task.kind) {
    case 'add':
    case 'multiply': {
      const correct = Number(task.answer);
      const offsets = [-10, -3, -2, -1, 1, 2, 3, 10].filter((offset) => correct + offset >= 0);
      return String(correct + (offsets[randomInteger(rng, 0, offsets.length - 1)] as number));
    }
    case 'reverse': {
      const letters = [...task.answer];
      if (rng.next() < 0.5) return letters.reverse().join(''); // the word itself, not reversed
      const i = randomInteger(rng, 0, letters.length - 2);
      const swapped = [...letters];
      [swapped[i], swapped[i + 1]] = [swapped[i + 1] as string, swapped[i] as string];
      const text = swapped.join('');
      return text === task.answer ? letters.reverse().join('') : text;
    }
    default: {
      const unreachable: never = task.kind;
      return unreachable;
    }
  }
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
