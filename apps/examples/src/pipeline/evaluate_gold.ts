import type { CausalLM, Tokenizer } from '@rlhfjs/core';
import { judgeResponse } from '../task/gold_score';
import { generateCompletions, type CompletionOptions } from './generate_completions';

export interface GoldEvaluation {
  /** Mean gold score over the prompts. */
  goldScore: number;
  /** Shares of responses that are correct, well formed and polite. */
  correct: number;
  wellFormed: number;
  polite: number;
  count: number;
  prompts: string[];
  completions: string[];
  scores: number[];
}

/** Generates for the task prompts (greedy by default) and judges every completion with the gold scorer. */
export function evaluateGold(model: CausalLM, tokenizer: Tokenizer, prompts: readonly string[], options: CompletionOptions = {}): GoldEvaluation {
  const completions = generateCompletions(model, tokenizer, prompts, { doSample: false, maxNewTokens: 24, ...options });
  const judgements = prompts.map((prompt, i) => judgeResponse(prompt, completions[i] as string));
  const share = (count: number): number => (prompts.length === 0 ? 0 : count / prompts.length);
  return {
    goldScore: share(judgements.reduce((sum, judgement) => sum + judgement.score, 0)),
    correct: share(judgements.filter((judgement) => judgement.correct).length),
    wellFormed: share(judgements.filter((judgement) => judgement.wellFormed).length),
    polite: share(judgements.filter((judgement) => judgement.polite).length),
    count: prompts.length,
    prompts: [...prompts],
    completions,
    scores: judgements.map((judgement) => judgement.score),
  };
}
