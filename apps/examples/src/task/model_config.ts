import type { ModelConfigOptions } from '@rlhfjs/core';
import { TASK_MODEL_MAX_LENGTH, TASK_VOCAB_SIZE } from './task_tokenizer';

/**
 * The policy trained from scratch in the demo's SFT stage: a 3-layer GPT-2 with d_model 128 and 4 heads over the
 * task tokenizer's 1024 tokens (~0.73 M parameters). Token ids of `<|endoftext|>` (0, also BOS) and `<|pad|>` (1) are
 * those `train_tokenizer.ts` assigns.
 */
export const TASK_MODEL_CONFIG: Readonly<ModelConfigOptions> = Object.freeze({
  modelType: 'gpt2',
  vocabSize: TASK_VOCAB_SIZE,
  hiddenSize: 128,
  numLayers: 3,
  numHeads: 4,
  maxPositions: TASK_MODEL_MAX_LENGTH,
  tieWordEmbeddings: true,
  bosTokenId: 0,
  eosTokenId: 0,
  padTokenId: 1,
});

/** The reference model of the benchmarks: 4 layers, d_model 256, 4 heads, vocab 1024, sequences of 128. */
export const REFERENCE_MODEL_CONFIG: Readonly<ModelConfigOptions> = Object.freeze({
  modelType: 'gpt2',
  vocabSize: 1024,
  hiddenSize: 256,
  numLayers: 4,
  numHeads: 4,
  maxPositions: 128,
  tieWordEmbeddings: true,
  bosTokenId: 0,
  eosTokenId: 0,
  padTokenId: 0,
});

/** Sequence length the reference benchmarks run at. */
export const REFERENCE_SEQUENCE_LENGTH = 128;
