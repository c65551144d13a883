// PPO iteration time, split as the trainer reports it (`time/generation`, `time/scoring`, `time/training`), on the
// reference config: GPT-2, 4 layers, d_model 256, 4 heads, vocab 1024, frozen reference copy, batch 8 prompts of
// 16 tokens, 32 new tokens sampled, a reward function written in code, the other PPO settings at their defaults
// (miniBatchSize 4, ppoEpochs 4: 8 updates an iteration). One warm-up iteration, then the timed ones. The backend is
// the fastest installed (`initBackend`; `RLHFJS_BACKEND=<name>` forces one).
//
//   npx tsx packages/ppo/bench/ppo_bench.ts [--iterations 2]
import * as tf from '@tensorflow/tfjs';
import { Tokenizer, createCausalLM, createRng, initBackend, trainByteLevelBpe } from '@rlhfjs/core';
import { PPOTrainer } from '../src/index';

const VOCAB_SIZE = 1024;
const PROMPT_TOKENS = 16;
const BATCH_SIZE = 8;
const NEW_TOKENS = 32;

/** Reward in code: the fraction of completion characters that are vowels. */
async function vowelReward(_prompts: string[], completions: string[]): Promise<Float32Array> {
  return Float32Array.from(completions, (text) => (text.length === 0 ? 0 : [...text].filter((c) => 'aeiou'.includes(c)).length / text.length));
}

async function main(): Promise<void> {
  const iterationsArgument = process.argv.indexOf('--iterations');
  const timedIterations = iterationsArgument >= 0 ? Number(process.argv[iterationsArgument + 1]) : 2;
  const backend = await initBackend();
  const rng = createRng(0);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const word = (): string => Array.from({ length: 2 + rng.nextInt(5) }, () => letters[rng.nextInt(26)]).join('');
  // enough distinct words for byte-level BPE to learn the merges that fill a 1024-token vocabulary, so every id the
  // model can sample decodes
  const corpus = Array.from({ length: 400 }, () => Array.from({ length: 30 }, word).join(' '));
  const tokenizer = new Tokenizer(trainByteLevelBpe(corpus, { vocabSize: VOCAB_SIZE, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });
  if (tokenizer.vocabSize !== VOCAB_SIZE) throw new Error(`ppo_bench: the tokenizer has ${tokenizer.vocabSize} tokens, the model ${VOCAB_SIZE}`);
  // prompts of exactly 16 tokens: grow a word sequence until it encodes to 16 tokens
  const prompts: string[] = [];
  while (prompts.length < BATCH_SIZE) {
    let text = word();
    while (tokenizer.encode(text).length < PROMPT_TOKENS) text = `${text} ${word()}`;
    if (tokenizer.encode(text).length === PROMPT_TOKENS) prompts.push(text);
  }
  const modelOptions = { modelType: 'gpt2' as const, vocabSize: VOCAB_SIZE, hiddenSize: 256, numLayers: 4, numHeads: 4, maxPositions: 128, eosTokenId: tokenizer.eosTokenId };
  const policy = createCausalLM(modelOptions, { seed: 0 });
  const reference = createCausalLM(modelOptions, { seed: 0 });
  for (const variable of reference.namedParameters().values()) variable.trainable = false;
  const trainer = new PPOTrainer(
    { policy, reference: { kind: 'frozen', model: reference }, rewardFn: vowelReward, tokenizer, prompts },
    { batchSize: BATCH_SIZE, maxNewTokens: NEW_TOKENS, learningRate: 1e-4, iterations: timedIterations + 1, seed: 0 },
  );
  const { miniBatchSize, ppoEpochs } = trainer.config;
  console.log(`backend ${backend} (${tf.getBackend()}); gpt2 4×256, 4 heads, vocab ${VOCAB_SIZE}; batch ${BATCH_SIZE} × ${PROMPT_TOKENS} prompt tokens, ${NEW_TOKENS} new tokens; miniBatchSize ${miniBatchSize}, ppoEpochs ${ppoEpochs}`);
  const names = ['time/generation', 'time/scoring', 'time/training'] as const;
  const sums = { 'time/generation': 0, 'time/scoring': 0, 'time/training': 0 };
  for (let iteration = 0; iteration <= timedIterations; iteration += 1) {
    const start = performance.now();
    const metrics = await trainer.step();
    const wall = (performance.now() - start) / 1000;
    const label = iteration === 0 ? 'warm-up' : `iteration ${iteration}`;
    console.log(`${label}: ${names.map((name) => `${name.slice(5)} ${(metrics[name] as number).toFixed(3)} s`).join(', ')}, wall ${wall.toFixed(3)} s; score ${(metrics['objective/scores'] as number).toFixed(4)}, kl ${(metrics['objective/kl'] as number).toFixed(4)}`);
    if (iteration > 0) for (const name of names) sums[name] += metrics[name] as number;
  }
  const mean = (name: (typeof names)[number]): number => sums[name] / timedIterations;
  const total = names.reduce((sum, name) => sum + mean(name), 0);
  console.log(`mean of ${timedIterations} timed iterations: ${names.map((name) => `${name} ${mean(name).toFixed(3)} s (${((100 * mean(name)) / total).toFixed(1)}%)`).join(', ')}; total ${total.toFixed(3)} s/iteration`);
  trainer.dispose();
  policy.dispose();
  reference.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
