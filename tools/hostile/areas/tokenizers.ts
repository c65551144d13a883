import { join } from 'node:path';
import { createCausalLM, loadTokenizer, SFTTrainer, trainByteLevelBpe, type Tokenizer } from '@rlhfjs/core';
import type { HostileArea, HostileCase } from '../hostile_area';
import { mutateBytes, mutateJson, Random } from '../random';

const SAMPLE = 'The quick brown fox says: héllo, wörld! 123';
const CORPUS = ['the quick brown fox', 'jumps over the lazy dog', 'héllo wörld 123', 'user: hi\nassistant: hello'];

function baseTokenizerJson(): Record<string, unknown> {
  return trainByteLevelBpe(CORPUS, { vocabSize: 300, specialTokens: ['<pad>', '<|endoftext|>'] }) as Record<string, unknown>;
}

function baseConfig(): Record<string, unknown> {
  return {
    eos_token: '<|endoftext|>',
    pad_token: '<pad>',
    padding_side: 'right',
    truncation_side: 'right',
    model_max_length: 512,
    chat_template: "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{{ eos_token }}{% endfor %}",
  };
}

function files(tokenizer: unknown, config: unknown): Record<string, string> {
  return { 'tokenizer.json': JSON.stringify(tokenizer) ?? 'null', 'tokenizer_config.json': JSON.stringify(config) ?? 'null' };
}

function structuredCases(): HostileCase[] {
  const tokenizer = baseTokenizerJson();
  const config = baseConfig();
  const model = tokenizer['model'] as Record<string, unknown>;
  const refuse = (name: string, caseFiles: Record<string, string | Uint8Array>): HostileCase => ({ name, expect: 'refuse', files: caseFiles });
  const either = (name: string, caseFiles: Record<string, string>): HostileCase => ({ name, expect: 'either', files: caseFiles });
  const withConfig = (patch: Record<string, unknown>): Record<string, string> => files(tokenizer, { ...config, ...patch });
  const withModel = (patch: Record<string, unknown>): Record<string, string> => files({ ...tokenizer, model: { ...model, ...patch } }, config);
  return [
    { name: 'valid tokenizer', expect: 'accept', files: files(tokenizer, config) },
    { name: 'no tokenizer_config.json (so no pad or EOS token)', expect: 'refuse', files: { 'tokenizer.json': JSON.stringify(tokenizer) } },
    { name: 'valid, padding_side left, eos as an object', expect: 'accept', files: withConfig({ padding_side: 'left', eos_token: { content: '<|endoftext|>', lstrip: false } }) },
    refuse('tokenizer.json missing', { 'tokenizer_config.json': JSON.stringify(config) }),
    refuse('tokenizer.json empty', { 'tokenizer.json': '', 'tokenizer_config.json': JSON.stringify(config) }),
    refuse('tokenizer.json not JSON', { 'tokenizer.json': '{"model": ', 'tokenizer_config.json': JSON.stringify(config) }),
    refuse('tokenizer.json null', files(null, config)),
    refuse('tokenizer.json an array', files([], config)),
    refuse('tokenizer.json an empty object', files({}, config)),
    refuse('tokenizer.json not UTF-8', { 'tokenizer.json': Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'tokenizer_config.json': JSON.stringify(config) }),
    refuse('model type unknown', withModel({ type: 'Nonsense' })),
    either('model vocab an array', withModel({ vocab: ['a', 'b'] })),
    either('model vocab ids strings', withModel({ vocab: { a: '0', b: '1' } })),
    either('model vocab ids negative', withModel({ vocab: { a: -1, '<|endoftext|>': -2 } })),
    either('model vocab empty', withModel({ vocab: {}, merges: [] })),
    either('merges not pairs', withModel({ merges: [['a'], 5] })),
    either('merges of unknown tokens', withModel({ merges: ['zz qq'] })),
    refuse('added token id 2^40', files({ ...tokenizer, added_tokens: [{ id: 2 ** 40, content: '<x>', special: true }] }, config)),
    refuse('tokenizer_config.json not JSON', { 'tokenizer.json': JSON.stringify(tokenizer), 'tokenizer_config.json': '{"eos_token": ' }),
    refuse('tokenizer_config.json an array', files(tokenizer, [])),
    refuse('tokenizer_config.json a string', files(tokenizer, 'eos')),
    refuse('padding_side middle', withConfig({ padding_side: 'middle' })),
    refuse('padding_side LEFT', withConfig({ padding_side: 'LEFT' })),
    refuse('truncation_side 3', withConfig({ truncation_side: 3 })),
    refuse('model_max_length -1', withConfig({ model_max_length: -1 })),
    refuse('model_max_length "x"', withConfig({ model_max_length: 'x' })),
    refuse('eos_token a number', withConfig({ eos_token: 5 })),
    refuse('eos_token not in the vocabulary', withConfig({ eos_token: '<|nope|>' })),
    refuse('eos_token an array', withConfig({ eos_token: ['<|endoftext|>'] })),
    refuse('pad_token object without content', withConfig({ pad_token: { lstrip: true } })),
    refuse('no eos and no pad token', withConfig({ eos_token: null, pad_token: null })),
    refuse('add_bos_token "yes"', withConfig({ add_bos_token: 'yes' })),
    refuse('chat_template a number', withConfig({ chat_template: 5 })),
    refuse('chat_template does not parse', withConfig({ chat_template: '{% for %}' })),
    refuse('encodes every text to nothing', files({ ...tokenizer, normalizer: { type: 'Replace', pattern: { Regex: '[\\s\\S]' }, content: '' } }, config)),
    refuse('normalizer unknown', files({ ...tokenizer, normalizer: { type: 'Nonsense' } }, config)),
  ];
}

function mutatedCases(seed: number, count: number): HostileCase[] {
  const random = new Random(seed);
  const tokenizer = baseTokenizerJson();
  const config = baseConfig();
  const cases: HostileCase[] = [];
  for (let index = 0; index < count; index += 1) {
    switch (index % 3) {
      case 0: {
        const { value, path } = mutateJson(tokenizer, random);
        cases.push({ name: `tokenizer.json: ${path} replaced`, expect: 'either', files: files(value, config) });
        break;
      }
      case 1: {
        const { value, path } = mutateJson(config, random);
        cases.push({ name: `tokenizer_config.json: ${path} replaced`, expect: 'either', files: files(tokenizer, value) });
        break;
      }
      default: {
        const { bytes, what } = mutateBytes(Buffer.from(JSON.stringify(tokenizer)), random);
        cases.push({ name: `tokenizer.json bytes: ${what}`, expect: 'either', files: { 'tokenizer.json': bytes, 'tokenizer_config.json': JSON.stringify(config) } });
      }
    }
  }
  return cases;
}

/** Ids outside the vocabulary, or text that encodes to nothing, are what a trainer would silently train on. */
function encodingProblems(tokenizer: Tokenizer): string[] {
  const ids = tokenizer.encode(SAMPLE, { addSpecialTokens: false });
  const bad = ids.filter((id) => !Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize);
  return bad.length > 0 ? [`encode gave ids outside the vocabulary of ${tokenizer.vocabSize}: ${bad.slice(0, 5).join(', ')}`] : [];
}

export const tokenizersArea: HostileArea = {
  name: 'tokenizers',
  cases: (seed) => [...structuredCases(), ...mutatedCases(seed, 240)],
  async attempt(directory) {
    // As `rlhfjs sft` does: load the tokenizer, then build the trainer (which tokenizes the data) on a tiny model.
    const tokenizer = await loadTokenizer(directory);
    const problems = encodingProblems(tokenizer);
    if (problems.length > 0 || tokenizer.vocabSize > 100_000) return problems;
    const model = createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 64, eosTokenId: tokenizer.eosTokenId }, { seed: 1 });
    try {
      const trainer = new SFTTrainer({ model, tokenizer, trainDataset: [{ prompt: 'Q: hi', completion: SAMPLE }] as never }, { maxSteps: 1, progress: false, maxLength: 64 });
      trainer.dispose();
    } finally {
      model.dispose();
    }
    return [];
  },
};
