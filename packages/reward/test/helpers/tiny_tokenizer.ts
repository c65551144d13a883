import { Tokenizer, trainByteLevelBpe } from '@rlhfjs/core';

/** A small byte-level BPE tokenizer trained on `corpus`, with EOS `<|endoftext|>`, a separate `<pad>` and a chat template. */
export function tinyTokenizer(corpus: readonly string[], vocabSize = 300): Tokenizer {
  const json = trainByteLevelBpe(corpus, { vocabSize, specialTokens: ['<pad>', '<|endoftext|>'] });
  return new Tokenizer(json, {
    eos_token: '<|endoftext|>',
    pad_token: '<pad>',
    chat_template:
      "{% for message in messages %}<{{ message['role'] }}>{{ message['content'] }}<|endoftext|>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
  });
}
