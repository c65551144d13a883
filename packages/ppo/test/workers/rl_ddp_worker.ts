// Worker process for rl_ddp_equivalence.test.ts. Runs the scenarios named in SCENARIOS (comma-separated) and prints
// one `RESULT <json>` line per scenario. With SINGLE=1 it is the one-process reference (IdentityReducer, the global
// batch); otherwise it joins a process group from the environment (RANK, WORLD_SIZE, MASTER_*) and trains with a
// DistributedReducer on its shard (half the batch).
import * as tf from '@tensorflow/tfjs';
import { createCausalLM, IdentityReducer, Tokenizer, trainByteLevelBpe, type CausalLM, type GradientReducer } from '@rlhfjs/core';
import { DistributedReducer, initProcessGroup } from '@rlhfjs/dist';
import { GRPOTrainer, PPOTrainer, type GrpoOptions } from '../../src/index';

const words = ['cat', 'dog', 'sun', 'map', 'red', 'big', 'hot', 'run', 'top', 'zip', 'fan', 'web'];
const prompts = words.map((word) => `${word} ${word}`);
const tokenizer = new Tokenizer(trainByteLevelBpe([...prompts, 'abcdefghijklmnopqrstuvwxyz'], { vocabSize: 300, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });
const letters = (_prompts: string[], completions: string[]): Float32Array =>
  Float32Array.from(completions, (text) => (text.length === 0 ? 0 : [...text].filter((c) => c >= 'a' && c <= 'z').length / [...text].length));

function emit(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

function tinyModel(): CausalLM {
  return createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 48, eosTokenId: tokenizer.eosTokenId }, { seed: 0 });
}

function parameters(model: CausalLM): Record<string, number[]> {
  return Object.fromEntries([...model.namedParameters()].map(([name, variable]) => [name, Array.from(variable.dataSync())]));
}

/** GRPO scenarios: the global batch is 4 prompts × 4 completions; each of 2 ranks holds 2 prompts. */
const GRPO_SCENARIOS: Record<string, GrpoOptions> = {
  'grpo-dapo': { estimator: 'grpo', lossType: 'dapo', beta: 0.04, numIterations: 2 },
  'grpo-batch-scaled': { estimator: 'grpo', lossType: 'grpo', scaleRewards: 'batch', importanceSamplingLevel: 'sequence' },
  'reinforce++': { estimator: 'reinforce++', lossType: 'dr_grpo', beta: 0.04 },
};

async function runGrpo(name: string, reducer: GradientReducer): Promise<void> {
  const policy = tinyModel();
  const reference = tinyModel();
  const trainer = new GRPOTrainer(
    { policy, reference: { kind: 'frozen', model: reference }, rewardFunctions: [{ name: 'letters', fn: letters }], tokenizer, prompts, reducer },
    { batchSize: 4 / reducer.worldSize, numGenerations: 4, learningRate: 1e-2, maxCompletionLength: 4, seed: 5, iterations: 2, ...GRPO_SCENARIOS[name] },
  );
  await trainer.train();
  emit({ scenario: name, rank: reducer.rank, rewards: trainer.history.map((m) => m.reward), parameters: parameters(policy) });
  trainer.dispose();
  policy.dispose();
  reference.dispose();
}

/**
 * PPO whose ranks see very different KL: rank 0's reward is ±50 noise (large whitened advantages on its rollouts),
 * rank 1's is constant. Every rank logs its own and the all-ranks approx-KL of its last epoch, and the epoch it stopped at.
 */
async function runPpoEarlyStop(reducer: GradientReducer): Promise<void> {
  const policy = tinyModel();
  const reference = tinyModel();
  let draw = 0;
  const noisy = async (_p: string[], completions: string[]): Promise<Float32Array> => Float32Array.from(completions, () => ((draw++ * 7919) % 13 < 6 ? 50 : -50));
  const constant = async (_p: string[], completions: string[]): Promise<Float32Array> => new Float32Array(completions.length).fill(0.5);
  const trainer = new PPOTrainer(
    { policy, reference: { kind: 'frozen', model: reference }, rewardFn: reducer.rank === 0 ? noisy : constant, tokenizer, prompts, reducer },
    { batchSize: 4, miniBatchSize: 4, ppoEpochs: 6, learningRate: 3e-2, maxNewTokens: 4, seed: 5, iterations: 1, vfCoef: 0, targetKl: Number(process.env.TARGET_KL ?? '0.01') },
  );
  const metrics = await trainer.step();
  emit({ scenario: 'ppo-early-stop', rank: reducer.rank, localKl: metrics['policy/local_approxkl_last_epoch'], globalKl: metrics['policy/approxkl_last_epoch'], stopEpoch: metrics['policy/early_stop_epoch'] ?? -1 });
  trainer.dispose();
  policy.dispose();
  reference.dispose();
}

/**
 * PPO equivalence: one iteration of 4 prompts (2 per rank), sampled in chunks of 2 with the seed of the chunk's
 * global index, one minibatch per epoch (the row order inside a minibatch does not change its loss), 2 epochs.
 * Seed 8 and 40 new tokens make the ranks' response token counts differ (10 + 40 against 40 + 40: two rows stop at
 * EOS early), so a per-rank token mean instead of the global one fails the comparison (measured |Δθ| 0.04).
 */
async function runPpoEquivalence(reducer: GradientReducer): Promise<void> {
  const policy = tinyModel();
  const reference = tinyModel();
  const batchSize = 4 / reducer.worldSize;
  const trainer = new PPOTrainer(
    { policy, reference: { kind: 'frozen', model: reference }, rewardFn: async (p, c) => letters(p, c), tokenizer, prompts, reducer },
    { batchSize, miniBatchSize: batchSize, generationChunkSize: 2, ppoEpochs: 2, learningRate: 1e-2, maxNewTokens: 40, seed: 8, iterations: 1, klCoef: 0.05 },
  );
  const metrics = await trainer.step();
  const head = trainer.critic.head.weight.dataSync();
  emit({ scenario: 'ppo-equivalence', rank: reducer.rank, scores: metrics['objective/scores'], kl: metrics['objective/kl'], parameters: { ...parameters(policy), 'critic.head': Array.from(head) } });
  trainer.dispose();
  policy.dispose();
  reference.dispose();
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const single = process.env.SINGLE === '1';
  const group = single ? null : await initProcessGroup({ timeoutMs: 30_000, collectiveTimeoutMs: 30_000 });
  const reducer: GradientReducer = group === null ? new IdentityReducer() : new DistributedReducer(group);
  try {
    for (const name of (process.env.SCENARIOS ?? '').split(',')) {
      if (name === 'ppo-early-stop') await runPpoEarlyStop(reducer);
      else if (name === 'ppo-equivalence') await runPpoEquivalence(reducer);
      else await runGrpo(name, reducer);
    }
  } finally {
    await group?.destroy();
  }
}

main().catch((error: unknown) => {
  emit({ fatal: true, rank: process.env.RANK, message: (error as Error).stack });
  process.exitCode = 1;
});
