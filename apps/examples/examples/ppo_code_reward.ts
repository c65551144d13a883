// PPO where the reward is plain code, not a learned reward model: any `(prompts, completions) => Promise<Float32Array>`
// works. The policy trains LoRA adapters; the KL reference is the same model with its adapters switched off.
//
//   npx tsx apps/examples/examples/ppo_code_reward.ts [modelDir] [--steps 10] [--output DIR]
//
// Without modelDir it makes a tiny random Llama so the script runs offline in seconds.
import { initBackend, loadCausalLM, loadTokenizer, type PlainPromptOnlyRecord } from '@rlhfjs/core';
import { applyLora, saveAdapter, withAdaptersDisabled } from '@rlhfjs/lora';
import { PPOTrainer, type RewardFn } from '@rlhfjs/ppo';
import { modelDirectory, outputDirectory, parseArguments, taskData } from './example_setup';

/** The task asks for polite answers: +1 for ending with "Thank you!", −0.5 for rambling, −1 for saying nothing. */
function politeness(completion: string): number {
  const text = completion.trim();
  if (text.length === 0) return -1;
  let score = text.endsWith('Thank you!') ? 1 : 0;
  if (text.length > 32) score -= 0.5; // the ideal answers are at most 30 characters
  return score;
}

const rewardFn: RewardFn = async (_prompts, completions) => Float32Array.from(completions.map(politeness));

async function main(): Promise<void> {
  const args = parseArguments(10);
  console.log(`backend: ${await initBackend()}`);

  // 1. The policy (usually an SFT checkpoint) with LoRA adapters on the attention projections.
  const modelDir = await modelDirectory(args);
  const policy = await loadCausalLM(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  applyLora(policy, { r: 8, alpha: 16, targetModules: ['q_proj', 'v_proj'], seed: 0 });

  // 2. Prompts only: the policy writes the completions, the code above scores them.
  const prompts = (await taskData<PlainPromptOnlyRecord>('prompts_train')).map((record) => record.prompt);
  const evalPrompts = (await taskData<PlainPromptOnlyRecord>('prompts_heldout', 16)).map((record) => record.prompt);

  // 3. PPO: per-token reward −β·KL(policy ‖ reference) plus the score on the last token, GAE, clipped losses.
  const trainer = new PPOTrainer(
    {
      policy, tokenizer, rewardFn, prompts, evalPrompts,
      reference: { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => withAdaptersDisabled(policy, fn) },
    },
    { iterations: args.steps, batchSize: 8, miniBatchSize: 4, ppoEpochs: 2, learningRate: 3e-3, klCoef: 0.05, maxNewTokens: 12, seed: 0 },
  );

  // 4. Mean greedy score on held-out prompts before and after; each iteration logs its sampled score and KL.
  console.log(`heldout mean score before: ${(await trainer.evaluate()).toFixed(4)}`);
  for (let iteration = 1; iteration <= args.steps; iteration++) {
    const metrics = await trainer.step();
    const score = metrics['objective/scores'] ?? Number.NaN;
    const kl = metrics['objective/kl'] ?? Number.NaN;
    console.log(`iteration ${iteration}: score ${score.toFixed(4)} kl ${kl.toFixed(4)}`);
  }
  console.log(`heldout mean score after: ${(await trainer.evaluate()).toFixed(4)}`);

  // 5. Save the trained adapter (the value head is PPO's helper and is not part of the policy).
  const outputDir = await outputDirectory(args, 'ppo-code-reward');
  await saveAdapter(policy, outputDir);
  console.log(`adapter saved to ${outputDir}`);
  trainer.dispose();
  policy.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
