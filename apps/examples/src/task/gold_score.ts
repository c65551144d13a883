import { ShapeError } from '@rlhfjs/core';
import { parseTaskPrompt } from './task_prompts';

/**
 * The gold scorer of the demo task: the "true human preference" the RLHF stages are measured against.
 *
 * Rubric (the response is trimmed of surrounding whitespace first):
 *   - answer: the first token after the phrase "The answer is " if the response contains it, else the first
 *     whitespace-separated token of the response; trailing punctuation (. , ! ? ; :) is removed from it.
 *     Only this one token counts, so listing several candidates does not help.
 *   - correct: answer === the prompt's expected answer (exact string: "tac", "CAT", "Cat").
 *   - wellFormed: the response is exactly `The answer is <answer>.` optionally followed by ` Thank you!`.
 *   - polite: the response ends with "Thank you!".
 *   score = 1.0 when correct && wellFormed && polite   ("The answer is tac. Thank you!")
 *           0.5 when correct otherwise                 ("The answer is tac.", "tac", "tac, obviously.")
 *           0.0 when the answer is wrong or missing    (however polite)
 *
 * Pure and deterministic; the prompt must be one of the task's prompts (else `parseTaskPrompt` throws DataError).
 */
export const GOLD_SCORES = Object.freeze({ correctPoliteWellFormed: 1, correctOtherwise: 0.5, wrong: 0 });

export interface GoldJudgement {
  readonly score: number;
  readonly expected: string;
  readonly answer: string | null;
  readonly correct: boolean;
  readonly wellFormed: boolean;
  readonly polite: boolean;
}

const ANSWER_PHRASE = 'The answer is ';
const TRAILING_PUNCTUATION = /[.,!?;:]+$/;

function extractAnswer(response: string): string | null {
  const at = response.indexOf(ANSWER_PHRASE);
  const rest = at >= 0 ? response.slice(at + ANSWER_PHRASE.length) : response;
  const token = rest.trimStart().split(/\s+/)[0] ?? '';
  const answer = token.replace(TRAILING_PUNCTUATION, '');
  return answer.length > 0 ? answer : null;
}

/** The full judgement behind `goldScore`, for reports and tests. */
export function judgeResponse(prompt: string, response: string): GoldJudgement {
  const { answer: expected } = parseTaskPrompt(prompt);
  const text = response.trim();
  const answer = extractAnswer(text);
  const correct = answer === expected;
  const wellFormed = answer !== null && (text === `${ANSWER_PHRASE}${answer}.` || text === `${ANSWER_PHRASE}${answer}. Thank you!`);
  const polite = text.endsWith('Thank you!');
  const score = !correct ? GOLD_SCORES.wrong : wellFormed && polite ? GOLD_SCORES.correctPoliteWellFormed : GOLD_SCORES.correctOtherwise;
  return { score, expected, answer, correct, wellFormed, polite };
}

/** Gold score of a response to a task prompt, in {0, 0.5, 1} (see the rubric above). */
export function goldScore(prompt: string, response: string): number {
  return judgeResponse(prompt, response).score;
}

/** Mean gold score of completions for prompts (0 for an empty list). */
export function meanGoldScore(prompts: readonly string[], completions: readonly string[]): number {
  if (prompts.length !== completions.length) {
    throw new ShapeError(`meanGoldScore: ${prompts.length} prompts but ${completions.length} completions`);
  }
  if (prompts.length === 0) return 0;
  let total = 0;
  for (let i = 0; i < prompts.length; i++) total += goldScore(prompts[i] as string, completions[i] as string);
  return total / prompts.length;
}
