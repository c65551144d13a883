import { generateArithmeticCorpus } from '../../../src/data/synthetic_corpus';
import type { SftRecord } from '../../../src/data/records';
import type { CausalLM } from '../../../src/model/causal_lm';
import { createCausalLM } from '../../../src/model/model_factory';
import { Tokenizer } from '../../../src/tokenizer/tokenizer';
import { trainByteLevelBpe } from '../../../src/tokenizer/train_bpe';

/** A 1-block GPT-2 (d 16) over a byte-level BPE of 40 arithmetic records: the smallest SFT setup, the same in every process. */
export function tinySftSetup(seed = 0): { model: CausalLM; tokenizer: Tokenizer; train: SftRecord[] } {
  const corpus = generateArithmeticCorpus({ seed: 1, count: 40, maxOperand: 9, operations: ['+'] });
  const json = trainByteLevelBpe(corpus.map((record) => `${record.prompt}${record.completion}`), { vocabSize: 280, specialTokens: ['<|endoftext|>'] });
  const tokenizer = new Tokenizer(json, { eos_token: '<|endoftext|>' });
  const model = createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 64, eosTokenId: tokenizer.eosTokenId }, { seed });
  return { model, tokenizer, train: corpus };
}
