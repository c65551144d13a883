import { createRng, trainByteLevelBpe } from '@rlhfjs/core';
import { styledResponse, RESPONSE_STYLES } from './response_styles';
import type { TaskData } from './task_data';
import { allTaskPrompts } from './task_prompts';

export const EOS_TOKEN = '<|endoftext|>';
export const PAD_TOKEN = '<|pad|>';
export const TASK_VOCAB_SIZE = 1024;
export const TASK_MODEL_MAX_LENGTH = 64;

/**
 * A minimal chat template for the task: the user's text, then the assistant's reply after one space, ended by EOS
 * (matching the `prompt + completion` layout of the JSONL data, so chat and plain use give the same tokens).
 */
export const TASK_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'user' %}{{ message['content'] }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}" +
  "{% elif message['role'] == 'system' %}{{ message['content'] + '\\n' }}{% endif %}{% endfor %}";

/** Texts the tokenizer is trained on: every split's prompts and responses, plus every prompt with every style of answer. */
export function taskTokenizerCorpus(data: TaskData): string[] {
  const corpus: string[] = [];
  for (const record of data.sftTrain) corpus.push(record.prompt + record.completion);
  for (const record of data.preferenceTrain) corpus.push(record.prompt + record.chosen, record.prompt + record.rejected);
  for (const record of data.promptTrain) corpus.push(record.prompt);
  const rng = createRng(0);
  for (const task of allTaskPrompts()) for (const style of RESPONSE_STYLES) corpus.push(`${task.prompt} ${styledResponse(task, style, rng)}`);
  return corpus;
}

/** `tokenizer_config.json` of the task tokenizer (transformers' keys). */
export function taskTokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: EOS_TOKEN,
    eos_token: EOS_TOKEN,
    pad_token: PAD_TOKEN,
    unk_token: null,
    padding_side: 'right',
    truncation_side: 'right',
    model_max_length: TASK_MODEL_MAX_LENGTH,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    chat_template: TASK_CHAT_TEMPLATE,
  };
}

/** Trains the task's byte-level BPE (vocab 1024, `<|endoftext|>` id 0, `<|pad|>` id 1, digits split individually). */
export function trainTaskTokenizer(corpus: Iterable<string>): { tokenizerJson: Record<string, unknown>; config: Record<string, unknown> } {
  const tokenizerJson = trainByteLevelBpe(corpus, { vocabSize: TASK_VOCAB_SIZE, specialTokens: [EOS_TOKEN, PAD_TOKEN], individualDigits: true, minFrequency: 2 });
  return { tokenizerJson, config: taskTokenizerConfig() };
}
