import {
  DPOTrainer,
} from '@rlhfjs/dpo';
import { GRPOTrainer, PPOTrainer, type GrpoOptions } from '@rlhfjs/ppo';
import { goldScore } from '../task/gold_score';
import { RewardModel, RewardTrainer, rewardFnFromModel, type PreferenceExample, type RewardFn } from '@rlhfjs/reward';
import { loadCausalLM, type CausalLM, type LogRecord, type PreferenceRecord, type Tokenizer } from '@rlhfjs/core';
import type { CurvePoint } from '../report/report_types';

export function curve(history: readonly LogRecord[] | readonly Record<string, unknown>[], key: string, stepKey = 'step'): CurvePoint[] {
  return (history as readonly Record<string, unknown>[])
    .filter((record) => typeof record[key] === 'number' && Number.isFinite(record[key] as number))
    .map((record, i) => ({ step: typeof record[stepKey] === 'number' ? (record[stepKey] as number) : i + 1, value: record[key] as number }));
}

/** Stage 2: a reward model initialised from the SFT policy (as InstructGPT), trained on the preference pairs. */
export async function runRewardStage(
  sftDir: string,
  tokenizer: Tokenizer,
  train: readonly PreferenceExample[],
  heldout: readonly PreferenceExample[],
  options: { steps: number; progress: boolean; batchSize: number },
): Promise<{ model: RewardModel; heldoutAccuracy: number; history: Record<string, unknown>[]; evaluations: Record<string, unknown>[] }> {
  const model = RewardModel.fromCausalLM(await loadCausalLM(sftDir), { seed: 1 });
  const trainer = new RewardTrainer(
    { model, tokenizer, trainDataset: train, evalDataset: heldout },
    { maxSteps: options.steps, batchSize: options.batchSize, learningRate: 1e-3, lrScheduler: 'cosine', warmupSteps: 10, progress: options.progress, evalEvery: Math.max(1, Math.floor(options.steps / 5)) },
  );
  const result = await trainer.train();
  const evaluation = await trainer.evaluate();
  return {
    model,
    heldoutAccuracy: evaluation.accuracy,
    history: result.history as unknown as Record<string, unknown>[],
    evaluations: result.evaluations as unknown as Record<string, unknown>[],
  };
}

/** Stage 3a: PPO against the reward model, reference = a frozen copy of the SFT policy. */
export async function runPpoStage(
  sftDir: string,
  tokenizer: Tokenizer,
  rewardModel: RewardModel,
  prompts: readonly string[],
  options: { iterations: number; progress: boolean; learningRate?: number },
): Promise<{ policy: CausalLM; history: Record<string, unknown>[]; rewardFn: RewardFn }> {
  const policy = await loadCausalLM(sftDir);
  const reference = await loadCausalLM(sftDir);
  for (const variable of reference.namedParameters().values()) variable.trainable = false;
  const rewardFn = rewardFnFromModel(rewardModel, tokenizer, { batchSize: 32 });
  const trainer = new PPOTrainer(
    { policy, reference: { kind: 'frozen', model: reference }, rewardFn, tokenizer, prompts },
    {
      iterations: options.iterations,
      batchSize: 32,
      miniBatchSize: 16,
      ppoEpochs: 2,
      learningRate: options.learningRate ?? 1e-4,
      klCoef: 0.1,
      maxNewTokens: 16,
      temperature: 1,
      seed: 0,
    },
  );
  const history: Record<string, unknown>[] = [];
  for (let i = 0; i < options.iterations; i++) {
    const metrics = await trainer.step();
    history.push({ step: i + 1, ...(metrics as unknown as Record<string, unknown>) });
    if (options.progress) {
      const m = metrics as unknown as Record<string, number>;
      console.log(`[ppo] iteration ${i + 1}/${options.iterations} score ${m['objective/scores']?.toFixed(3)} kl ${m['objective/kl']?.toFixed(3)}`);
    }
  }
  trainer.dispose();
  reference.dispose();
  return { policy, history, rewardFn };
}

/**
 * Stage 3c: GRPO with the gold scorer as a verifiable reward (no reward model), reference = a frozen copy of the SFT
 * policy so that the k3 KL is both penalised (β) and reported.
 */
export async function runGrpoStage(
  sftDir: string,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  options: { iterations: number; progress: boolean; learningRate?: number; overrides?: GrpoOptions },
): Promise<{ policy: CausalLM; history: Record<string, unknown>[] }> {
  const policy = await loadCausalLM(sftDir);
  const reference = await loadCausalLM(sftDir);
  for (const variable of reference.namedParameters().values()) variable.trainable = false;
  const gold = { name: 'gold', fn: (batchPrompts: string[], completions: string[]) => batchPrompts.map((prompt, i) => goldScore(prompt, completions[i] as string)) };
  const trainer = new GRPOTrainer(
    { policy, reference: { kind: 'frozen', model: reference }, rewardFunctions: [gold], tokenizer, prompts },
    { iterations: options.iterations, batchSize: 8, numGenerations: 8, learningRate: options.learningRate ?? 3e-4, beta: 0.04, lossType: 'dapo', maxCompletionLength: 16, seed: 0, ...options.overrides },
  );
  const history: Record<string, unknown>[] = [];
  for (let i = 0; i < options.iterations; i++) {
    const metrics = await trainer.step();
    history.push({ step: i + 1, ...metrics });
    if (options.progress) console.log(`[grpo] iteration ${i + 1}/${options.iterations} reward ${metrics.reward?.toFixed(3)} reward_std ${metrics.reward_std?.toFixed(3)} kl ${metrics.kl?.toFixed(3)}`);
  }
  trainer.dispose();
  reference.dispose();
  return { policy, history };
}

/** Stage 3b: DPO on the same preference pairs from the SFT policy, reference = a frozen copy. */
export async function runDpoStage(
  sftDir: string,
  tokenizer: Tokenizer,
  train: readonly PreferenceRecord[],
  heldout: readonly PreferenceRecord[],
  options: { steps: number; progress: boolean; learningRate?: number },
): Promise<{ policy: CausalLM; history: Record<string, unknown>[]; evaluation: Record<string, number> }> {
  const policy = await loadCausalLM(sftDir);
  const reference = await loadCausalLM(sftDir);
  for (const variable of reference.namedParameters().values()) variable.trainable = false;
  const trainer = new DPOTrainer(
    { model: policy, tokenizer, trainDataset: train, evalDataset: heldout, reference: { kind: 'frozen', model: reference } },
    { maxSteps: options.steps, batchSize: 16, learningRate: options.learningRate ?? 1e-4, beta: 0.3, rpoAlpha: 0.5, lrScheduler: 'cosine', warmupSteps: 5, maxLength: 64, maxPromptLength: 32, progress: options.progress },
  );
  const result = await trainer.train();
  const evaluation = (await trainer.evaluate()) as unknown as Record<string, number>;
  trainer.dispose();
  reference.dispose();
  return { policy, history: result.history as unknown as Record<string, unknown>[], evaluation };
}
