import {
  SFTTrainer,
  createCausalLM,
  initBackend,
  loadDataset,
  loadTokenizer,
  type CausalLM,
  type LogRecord,
  type ModelConfigOptions,
  type PreferenceRecord,
  type SftRecord,
  type Tokenizer,
} from '@rlhfjs/core';
import { promises as fs } from 'fs';
import * as path from 'path';
import { writeReport } from '../report/write_report';
import type { ReportSample } from '../report/report_types';
import { rewardFnFromModel, type PreferenceExample } from '@rlhfjs/reward';
import { curve, runDpoStage, runGrpoStage, runPpoStage, runRewardStage } from './stages';
import { TASK_MODEL_CONFIG } from '../task/model_config';
import { evaluateGold, type GoldEvaluation } from './evaluate_gold';

export interface DemoOptions {
  outputRoot: string;
  /** Scales every stage's step count (default 1). */
  scale?: number;
  /** Further scales one stage's steps on top of `scale` (the miniature test shortens the reward model most). */
  stageScales?: Partial<Record<DemoStage, number>>;
  /** Overrides of the task model config (the miniature test uses a smaller model). */
  model?: Partial<ModelConfigOptions>;
  /** SFT peak learning rate (default 2e-3). */
  sftLearningRate?: number;
  /** PPO learning rate (default 1e-4). */
  ppoLearningRate?: number;
  /** Reward-model pairs per step (default 16: 900 steps in about 4.5 min on 2 cores, held-out accuracy 0.863). */
  rewardBatchSize?: number;
  /** GRPO learning rate (default 3e-4). */
  grpoLearningRate?: number;
  /** DPO learning rate (default 1e-4). */
  dpoLearningRate?: number;
  /** Held-out prompts judged per stage (default: all of them, greedy decoding). */
  evalPrompts?: number;
  progress?: boolean;
}

export type DemoStage = 'sft' | 'reward' | 'ppo' | 'grpo' | 'dpo';

export interface DemoResult {
  reportPath: string;
  summary: Record<string, unknown>;
}

const EXAMPLES = path.join(__dirname, '..', '..');

const SFT_STEPS = 800;
const REWARD_STEPS = 900;
const PPO_ITERATIONS = 20;
const DPO_STEPS = 200;
// 10 iterations of 8 prompts × 8 completions: gold 0.443 → 0.767 from the full SFT checkpoint (51 s on 2 busy cores)
const GRPO_ITERATIONS = 10;
const PPO_KL_TARGET = 6;

export interface TaskDataset {
  tokenizer: Tokenizer;
  sftTrain: SftRecord[];
  sftHeldout: SftRecord[];
  preferenceTrain: PreferenceExample[];
  preferenceHeldout: PreferenceExample[];
  preferenceTrainRecords: PreferenceRecord[];
  preferenceHeldoutRecords: PreferenceRecord[];
  trainPrompts: string[];
  heldoutPrompts: string[];
  labelNoise: number;
  heldoutLabelNoise: number;
  summary: Record<string, unknown>;
}

export async function loadTaskData(): Promise<TaskDataset> {
  const tokenizer = await loadTokenizer(path.join(EXAMPLES, 'assets', 'tokenizer'));
  const data = (name: string) => path.join(EXAMPLES, 'data', name);
  const sftTrain = (await loadDataset(data('sft_train.jsonl'))).records as SftRecord[];
  const sftHeldout = (await loadDataset(data('sft_heldout.jsonl'))).records as SftRecord[];
  const promptsOf = async (name: string) => (await loadDataset(data(name))).records.map((record) => (record as { prompt: string }).prompt);
  const preferenceTrainRecords = (await loadDataset(data('preference_train.jsonl'))).records as PreferenceRecord[];
  const preferenceHeldoutRecords = (await loadDataset(data('preference_heldout.jsonl'))).records as PreferenceRecord[];
  const asPair = (record: PreferenceRecord): PreferenceExample => record as unknown as PreferenceExample;
  const summary = JSON.parse(await fs.readFile(data('summary.json'), 'utf8')) as Record<string, unknown>;
  return {
    tokenizer,
    sftTrain,
    sftHeldout,
    preferenceTrain: preferenceTrainRecords.map(asPair),
    preferenceHeldout: preferenceHeldoutRecords.map(asPair),
    preferenceTrainRecords,
    preferenceHeldoutRecords,
    trainPrompts: await promptsOf('prompts_train.jsonl'),
    heldoutPrompts: await promptsOf('prompts_heldout.jsonl'),
    labelNoise: (summary['labelNoise'] as { observedTrain: number }).observedTrain,
    heldoutLabelNoise: (summary['labelNoise'] as { observedHeldout: number }).observedHeldout,
    summary,
  };
}

/** Stage 1: a small GPT-2 trained from scratch on the mixed-quality demonstrations. */
export async function runSftStage(
  tokenizer: Tokenizer,
  train: readonly SftRecord[],
  heldout: readonly SftRecord[],
  options: { steps: number; progress: boolean; outputDir: string; model?: Partial<ModelConfigOptions>; learningRate?: number },
): Promise<{ model: CausalLM; history: LogRecord[]; heldoutLoss: number }> {
  const model = createCausalLM({ ...TASK_MODEL_CONFIG, ...options.model }, { seed: 0 });
  const trainer = new SFTTrainer(
    { model, tokenizer, trainDataset: train, evalDataset: heldout },
    { maxSteps: options.steps, batchSize: 16, learningRate: options.learningRate ?? 2e-3, warmupSteps: Math.min(20, Math.floor(options.steps / 10)), lrScheduler: 'cosine', maxLength: 48, progress: options.progress, weightDecay: 0.01 },
  );
  const result = await trainer.train();
  const heldoutLoss = trainer.evaluateLoss(32);
  await trainer.save(options.outputDir);
  trainer.dispose();
  return { model, history: result.history, heldoutLoss };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const scale = options.scale ?? 1;
  const progress = options.progress ?? true;
  const steps = (full: number, stage: DemoStage): number => Math.max(2, Math.round(full * scale * (options.stageScales?.[stage] ?? 1)));
  const backend = await initBackend({ verbose: true });
  const run = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(options.outputRoot, run);
  await fs.mkdir(runDir, { recursive: true });
  const task = await loadTaskData();
  const { tokenizer } = task;
  // the policy's answer to every held-out prompt, decoded greedily, judged by the gold scorer
  const evalPrompts = task.heldoutPrompts.slice(0, options.evalPrompts ?? task.heldoutPrompts.length);
  const evaluate = (model: CausalLM): GoldEvaluation => evaluateGold(model, tokenizer, evalPrompts, { doSample: false });
  const sftDir = path.join(runDir, 'sft');

  const elapsed = (): string => `[${((Date.now() - started) / 1000).toFixed(0)} s]`;
  console.log(`[demo] stage 1/5: SFT from scratch (${steps(SFT_STEPS, 'sft')} steps)`);
  const sft = await runSftStage(tokenizer, task.sftTrain, task.sftHeldout, { steps: steps(SFT_STEPS, 'sft'), progress, outputDir: sftDir, model: options.model, learningRate: options.sftLearningRate });
  const sftGold = evaluate(sft.model);
  sft.model.dispose();
  console.log(`[demo] SFT: held-out loss ${sft.heldoutLoss.toFixed(3)}, gold score ${sftGold.goldScore.toFixed(3)} ${elapsed()}`);

  console.log(`[demo] stage 2/5: reward model from the SFT policy (${steps(REWARD_STEPS, 'reward')} steps)`);
  const reward = await runRewardStage(sftDir, tokenizer, task.preferenceTrain, task.preferenceHeldout, { steps: steps(REWARD_STEPS, 'reward'), progress, batchSize: options.rewardBatchSize ?? 16 });
  console.log(`[demo] reward model: held-out accuracy ${reward.heldoutAccuracy.toFixed(3)} (bound ${(1 - task.heldoutLabelNoise).toFixed(3)} from ${(100 * task.heldoutLabelNoise).toFixed(1)}% flipped held-out labels) ${elapsed()}`);
  const rewardFn = rewardFnFromModel(reward.model, tokenizer, { batchSize: 32 });
  const meanReward = async (completions: readonly string[]): Promise<number> => {
    const values = await rewardFn([...evalPrompts], [...completions]);
    return values.reduce((sum, value) => sum + value, 0) / values.length;
  };
  const sftReward = await meanReward(sftGold.completions);

  console.log(`[demo] stage 3/5: PPO against the reward model (${steps(PPO_ITERATIONS, 'ppo')} iterations)`);
  const ppo = await runPpoStage(sftDir, tokenizer, reward.model, task.trainPrompts, { iterations: steps(PPO_ITERATIONS, 'ppo'), progress, learningRate: options.ppoLearningRate });
  const ppoGold = evaluate(ppo.policy);
  const ppoReward = await meanReward(ppoGold.completions);
  const ppoKl = heldoutKl(ppo.history);
  ppo.policy.dispose();
  console.log(`[demo] PPO: gold score ${ppoGold.goldScore.toFixed(3)}, KL ${ppoKl.toFixed(3)} ${elapsed()}`);

  console.log(`[demo] stage 4/5: GRPO with the gold scorer as a verifiable reward (${steps(GRPO_ITERATIONS, 'grpo')} iterations)`);
  const grpo = await runGrpoStage(sftDir, tokenizer, task.trainPrompts, { iterations: steps(GRPO_ITERATIONS, 'grpo'), progress, learningRate: options.grpoLearningRate });
  const grpoGold = evaluate(grpo.policy);
  const grpoReward = await meanReward(grpoGold.completions);
  const grpoKl = lastMean(grpo.history, 'kl');
  grpo.policy.dispose();
  console.log(`[demo] GRPO: gold score ${grpoGold.goldScore.toFixed(3)}, KL ${grpoKl.toFixed(3)} ${elapsed()}`);

  console.log(`[demo] stage 5/5: DPO from the SFT policy (${steps(DPO_STEPS, 'dpo')} steps)`);
  const dpo = await runDpoStage(sftDir, tokenizer, task.preferenceTrainRecords, task.preferenceHeldoutRecords, { steps: steps(DPO_STEPS, 'dpo'), progress, learningRate: options.dpoLearningRate });
  const dpoGold = evaluate(dpo.policy);
  const dpoReward = await meanReward(dpoGold.completions);
  dpo.policy.dispose();
  reward.model.dispose();
  console.log(`[demo] DPO: gold score ${dpoGold.goldScore.toFixed(3)}, held-out rewards/accuracies ${(dpo.evaluation['rewards/accuracies'] ?? Number.NaN).toFixed(3)} ${elapsed()}`);

  const samples: ReportSample[] = evalPrompts.slice(0, 10).map((prompt, i) => ({
    prompt,
    generations: [
      { stage: 'sft', text: sftGold.completions[i] as string, goldScore: sftGold.scores[i] as number },
      { stage: 'ppo', text: ppoGold.completions[i] as string, goldScore: ppoGold.scores[i] as number },
      { stage: 'grpo', text: grpoGold.completions[i] as string, goldScore: grpoGold.scores[i] as number },
      { stage: 'dpo', text: dpoGold.completions[i] as string, goldScore: dpoGold.scores[i] as number },
    ],
  }));
  const summary = {
    run,
    backend,
    sft: { goldScore: sftGold.goldScore, rewardModelScore: sftReward, heldoutLoss: sft.heldoutLoss },
    ppo: { goldScore: ppoGold.goldScore, rewardModelScore: ppoReward, kl: ppoKl, klTarget: PPO_KL_TARGET },
    grpo: { goldScore: grpoGold.goldScore, rewardModelScore: grpoReward, kl: grpoKl },
    dpo: { goldScore: dpoGold.goldScore, rewardModelScore: dpoReward, heldoutRewardAccuracy: dpo.evaluation['rewards/accuracies'] ?? Number.NaN, heldoutRewardMargin: dpo.evaluation['rewards/margins'] ?? Number.NaN },
    // flipped held-out labels cap the accuracy any reward model can reach on them
    rewardModel: { heldoutAccuracy: reward.heldoutAccuracy, accuracyBound: 1 - task.heldoutLabelNoise },
    labelNoise: task.labelNoise,
    evaluatedPrompts: evalPrompts.length,
    seconds: (Date.now() - started) / 1000,
  };
  const curves = {
    loss: { sft: curve(sft.history, 'loss'), 'reward model': curve(reward.history, 'loss'), dpo: curve(dpo.history, 'loss') },
    reward: { 'ppo score': curve(ppo.history, 'objective/scores'), 'ppo rlhf reward': curve(ppo.history, 'objective/rlhf_reward'), 'grpo gold reward': curve(grpo.history, 'reward') },
    kl: { ppo: curve(ppo.history, 'objective/kl'), grpo: curve(grpo.history, 'kl') },
    accuracy: { 'reward model (held-out)': curve(reward.evaluations, 'accuracy'), 'dpo rewards/accuracies': curve(dpo.history, 'rewards/accuracies') },
  };
  const written = await writeReport(runDir, summary, curves, samples);
  console.log(
    `[demo] gold score on ${evalPrompts.length} held-out prompts: SFT ${sftGold.goldScore.toFixed(3)} → PPO ${ppoGold.goldScore.toFixed(3)}, GRPO ${grpoGold.goldScore.toFixed(3)} (KL ${grpoKl.toFixed(3)}), DPO ${dpoGold.goldScore.toFixed(3)} ` +
      `(reward model accuracy ${reward.heldoutAccuracy.toFixed(3)}, PPO KL ${ppoKl.toFixed(3)}) in ${summary.seconds.toFixed(0)} s`,
  );
  return { reportPath: written.htmlPath, summary };
}

/** The KL of the last PPO iterations (mean of the last three), the figure the report compares with its target. */
function heldoutKl(history: readonly Record<string, unknown>[]): number {
  return lastMean(history, 'objective/kl');
}

/** Mean of the last three logged values of a metric. */
function lastMean(history: readonly Record<string, unknown>[], key: string): number {
  const values = history.map((record) => record[key]).filter((value): value is number => typeof value === 'number');
  const tail = values.slice(-3);
  return tail.length === 0 ? Number.NaN : tail.reduce((a, b) => a + b, 0) / tail.length;
}
