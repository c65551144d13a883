import { loadCausalLM, loadTokenizer, TokenizerError, type CausalLM, type Tokenizer } from '@rlhfjs/core';

/** Loads an HF model directory and its tokenizer (from `tokenizerDir`, else the model directory). */
export async function loadPolicy(modelDir: string, tokenizerDir: string | undefined): Promise<{ model: CausalLM; tokenizer: Tokenizer }> {
  const tokenizer = await loadTokenizer(tokenizerDir ?? modelDir);
  const model = await loadCausalLM(modelDir);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    model.dispose();
    throw new TokenizerError(`the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${model.config.vocabSize}`);
  }
  return { model, tokenizer };
}
