import { generate, padSequences, type CausalLM, type GenerationOptions, type Tokenizer } from '@rlhfjs/core';

export interface CompletionOptions extends Omit<GenerationOptions, 'stopTokenIds' | 'padTokenId'> {
  /** Prompts generated together (default 32). */
  batchSize?: number;
  /** Whether encoding a prompt adds the tokenizer's special tokens (default true; false for chat-templated text). */
  addSpecialTokens?: boolean;
}

/**
 * Generates a completion for every prompt (left-padded batches, stopping at the tokenizer's EOS) and decodes it
 * without special tokens. Seeds differ per batch (seed + batch index) so batches are not sampled alike.
 */
export function generateCompletions(model: CausalLM, tokenizer: Tokenizer, prompts: readonly string[], options: CompletionOptions = {}): string[] {
  const { batchSize = 32, seed = 0, addSpecialTokens = true, ...generation } = options;
  const stop = tokenizer.eosTokenId ?? model.config.eosTokenId;
  const completions: string[] = [];
  for (let start = 0; start < prompts.length; start += batchSize) {
    const batch = prompts.slice(start, start + batchSize);
    const encoded = padSequences(batch.map((prompt) => tokenizer.encode(prompt, { addSpecialTokens })), tokenizer.padTokenId, 'left');
    const output = generate(model, encoded, {
      ...generation,
      seed: seed + start / batchSize,
      stopTokenIds: stop === null ? [] : [stop],
      padTokenId: tokenizer.padTokenId,
    });
    output.completionIds.forEach((ids, row) => {
      const mask = output.completionMask[row] ?? [];
      const kept = ids.filter((_, i) => mask[i] === 1);
      completions.push(tokenizer.decode(kept, { skipSpecialTokens: true }));
    });
  }
  return completions;
}
