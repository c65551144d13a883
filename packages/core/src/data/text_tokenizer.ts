import type { ChatMessage } from './chat_message';

/**
 * What the data layer needs from a tokenizer. Core's Hugging Face tokenizer implements it; so can any other.
 * `encode` follows Hugging Face: `addSpecialTokens` (default true) adds what the tokenizer's post-processor adds
 * (a BOS token for Llama, nothing for GPT-2). `applyChatTemplate` renders messages to text (the template puts in
 * its own special tokens, so rendered text is encoded with `addSpecialTokens: false`).
 */
export interface TextTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** The padding token; falls back to EOS when the tokenizer has none, as TRL does. */
  readonly padTokenId: number;
}
