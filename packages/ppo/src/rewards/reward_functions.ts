import { ConfigError } from '@rlhfjs/core';

/**
 * A reward function of the critic-free trainers: one score per (prompt, completion) pair, sync or async. A learned
 * reward model wrapped as `RewardFn` is one. `NaN` means "no opinion on this sample" (TRL: such entries are left
 * out of the weighted sum over functions).
 */
export type RewardFunction = (prompts: string[], completions: string[]) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** A reward function with the name its metric is logged under (`rewards/<name>/mean`). */
export interface NamedRewardFunction {
  readonly name: string;
  readonly fn: RewardFunction;
  /** Default 1. */
  readonly weight?: number;
}

export interface ExactAnswerOptions {
  /** Pulls the answer out of a completion; default the whole completion. */
  readonly extract?: (completion: string) => string | null;
  /** Applied to both sides before comparing; default trim + collapse whitespace. */
  readonly normalize?: (text: string) => string;
  /** Score of a match / a mismatch. Default 1 / 0. */
  readonly correct?: number;
  readonly wrong?: number;
}

const defaultNormalize = (text: string): string => text.trim().replace(/\s+/g, ' ');

/**
 * Verifiable reward: `correct` when the (extracted, normalised) completion equals the prompt's known answer, else
 * `wrong`. `answers` maps a prompt to its answer (a Map, a record, or a function); a prompt without an answer scores
 * NaN (skipped in the weighted sum).
 */
export function exactAnswerReward(
  answers: ReadonlyMap<string, string> | Readonly<Record<string, string>> | ((prompt: string) => string | undefined),
  options: ExactAnswerOptions = {},
): RewardFunction {
  const lookup = typeof answers === 'function' ? answers : answers instanceof Map ? (prompt: string) => answers.get(prompt) : (prompt: string) => (answers as Record<string, string>)[prompt];
  const normalize = options.normalize ?? defaultNormalize;
  const correct = options.correct ?? 1;
  const wrong = options.wrong ?? 0;
  return (prompts, completions) =>
    Float32Array.from(prompts, (prompt, index) => {
      const answer = lookup(prompt);
      if (answer === undefined) return Number.NaN;
      const extracted = options.extract === undefined ? (completions[index] ?? '') : options.extract(completions[index] ?? '');
      return extracted !== null && normalize(extracted) === normalize(answer) ? correct : wrong;
    });
}

/** Format reward: `matched` (default 1) when the whole completion matches `pattern` (anchored), else `unmatched` (0). */
export function regexFormatReward(pattern: RegExp, options: { matched?: number; unmatched?: number } = {}): RewardFunction {
  const anchored = new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace('g', ''));
  return (_prompts, completions) => Float32Array.from(completions, (completion) => (anchored.test(completion) ? (options.matched ?? 1) : (options.unmatched ?? 0)));
}

/**
 * Scores every function on the batch; returns one row of scores per function ([F][N]), after checking each returned
 * one score per completion.
 */
export async function scoreRewardFunctions(functions: readonly NamedRewardFunction[], prompts: string[], completions: string[]): Promise<Float64Array[]> {
  const results = await Promise.all(functions.map(async (entry) => ({ entry, scores: await entry.fn([...prompts], [...completions]) })));
  return results.map(({ entry, scores }) => {
    if (scores.length !== completions.length) throw new ConfigError('GRPOTrainer', [`reward function "${entry.name}" returned ${scores.length} scores for ${completions.length} completions`]);
    return Float64Array.from(scores);
  });
}

/** TRL's `(rewards_per_func * weights).nansum(dim=1)`: Σ_f w_f·r_f over the functions that gave a number. [F][N] → [N] */
export function combineRewards(perFunction: readonly ArrayLike<number>[], weights: readonly number[]): Float64Array {
  const count = perFunction[0]?.length ?? 0;
  const total = new Float64Array(count);
  perFunction.forEach((scores, f) => {
    for (let index = 0; index < count; index += 1) {
      const value = (scores[index] as number) * (weights[f] as number);
      if (!Number.isNaN(value)) total[index] = (total[index] as number) + value;
    }
  });
  return total;
}
