import { loadTokenizer } from '@rlhfjs/core';
import { KL_ESTIMATORS, PPOTrainer, type KlEstimator, type RewardFn } from '@rlhfjs/ppo';
import { loadRewardModel, rewardFnFromModel, type RewardModel } from '@rlhfjs/reward';
import { goldScore } from '../../task/gold_score';
import { numberOptions, stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { readPrompts } from '../read_prompts';
import { runRlLoop, withRlModels } from './rl_run';
import { CONFIG_OPTION, GRADIENT_CHECKPOINTING_OPTION, LORA_OPTIONS, modelAndDataOptions, NPROC_OPTION, OVERWRITE_OPTION } from './shared_options';
import { checkModelSource } from './start_model';
import { withReducer } from './train_run';

/** What `rlhfjs ppo` logs each iteration and summarises: label → metrics key. */
const PPO_REPORTED = { score: 'objective/scores', kl: 'objective/kl', policy_loss: 'loss/policy_avg' } as const;

export const PPO_OPTIONS: readonly OptionSpec[] = [
  ...modelAndDataOptions('prompts: JSONL with a string "prompt" field, or text with one prompt a line', 'where the policy (or adapter), tokenizer, checkpoints and ppo_metrics.jsonl are written'),
  { key: 'rewardModel', flag: '--reward-model <dir>', description: 'reward model directory (from rlhfjs reward), or "gold" for the built-in task scorer', kind: 'path', required: true },
  { key: 'iterations', flag: '--iterations <n>', description: 'PPO iterations (rollouts → advantages → updates)', kind: 'integer', defaultValue: 10, min: 1 },
  { key: 'batchSize', flag: '--batch-size <n>', description: 'prompts rolled out per iteration (per process)', kind: 'integer', defaultValue: 8, min: 1 },
  { key: 'miniBatchSize', flag: '--mini-batch-size <n>', description: 'rollouts per gradient update', kind: 'integer', defaultValue: 4, min: 1 },
  { key: 'ppoEpochs', flag: '--ppo-epochs <n>', description: 'passes over each batch of rollouts', kind: 'integer', defaultValue: 4, min: 1 },
  { key: 'learningRate', flag: '--learning-rate <lr>', description: 'AdamW learning rate (tiny models want ~1e-3)', kind: 'number', defaultValue: 1e-5, min: 0 },
  { key: 'klCoef', flag: '--kl-coef <beta>', description: 'initial KL coefficient β', kind: 'number', defaultValue: 0.05, min: 0 },
  { key: 'klEstimator', flag: '--kl-estimator <k>', description: 'per-token KL estimator', kind: 'string', defaultValue: 'k1', choices: KL_ESTIMATORS },
  { key: 'adaptiveKlTarget', flag: '--adaptive-kl-target <kl>', description: 'target KL of the adaptive controller (unset: fixed β)', kind: 'number', greaterThan: 0 },
  { key: 'adaptiveKlHorizon', flag: '--adaptive-kl-horizon <n>', description: 'adaptive KL horizon in samples', kind: 'number', defaultValue: 10000, greaterThan: 0 },
  { key: 'gamma', flag: '--gamma <g>', description: 'GAE discount γ', kind: 'number', defaultValue: 1, min: 0, max: 1 },
  { key: 'lambda', flag: '--lambda <l>', description: 'GAE λ', kind: 'number', defaultValue: 0.95, min: 0, max: 1 },
  { key: 'clipRange', flag: '--clip-range <e>', description: 'policy ratio clip', kind: 'number', defaultValue: 0.2, greaterThan: 0 },
  { key: 'clipRangeValue', flag: '--clip-range-value <e>', description: 'value clip', kind: 'number', defaultValue: 0.2, greaterThan: 0 },
  { key: 'vfCoef', flag: '--vf-coef <c>', description: 'value-loss weight', kind: 'number', defaultValue: 0.1, min: 0 },
  { key: 'maxNewTokens', flag: '--max-new-tokens <n>', description: 'rollout length', kind: 'integer', defaultValue: 32, min: 1 },
  { key: 'temperature', flag: '--temperature <t>', description: 'sampling temperature (also used to score)', kind: 'number', defaultValue: 1, greaterThan: 0 },
  { key: 'missingEosPenalty', flag: '--missing-eos-penalty <p>', description: 'subtracted from the score of completions without EOS (unset: none)', kind: 'number', min: 0 },
  { key: 'scoreClip', flag: '--score-clip <c>', description: 'clip scores to ±c (unset: none)', kind: 'number', greaterThan: 0 },
  { key: 'targetKl', flag: '--target-kl <kl>', description: "stop an iteration's PPO epochs early above 1.5 × this mean approx-KL (unset: off)", kind: 'number', greaterThan: 0 },
  { key: 'maxGradNorm', flag: '--max-grad-norm <n>', description: 'clip the global gradient norm (0: no clipping)', kind: 'number', defaultValue: 1, min: 0 },
  { key: 'seed', flag: '--seed <n>', description: 'rollout, shuffling and initialisation seed', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'saveEvery', flag: '--save-every <n>', description: 'write a trainer checkpoint to --output/checkpoint-<iteration> every n iterations (0: never)', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'resumeFrom', flag: '--resume-from <dir>', description: 'resume from a checkpoint directory written by --save-every, or "latest" under --output (an error when there is none)', kind: 'path' },
  OVERWRITE_OPTION,
  GRADIENT_CHECKPOINTING_OPTION,
  ...LORA_OPTIONS,
  NPROC_OPTION,
  CONFIG_OPTION,
];

export async function loadRewardFn(source: string, policyTokenizerDir: string): Promise<{ rewardFn: RewardFn; model: RewardModel | null }> {
  if (source === 'gold') return { rewardFn: async (prompts, completions) => Float32Array.from(prompts.map((prompt, i) => goldScore(prompt, completions[i] as string))), model: null };
  const model = await loadRewardModel(source);
  let tokenizer;
  try {
    tokenizer = await loadTokenizer(source);
  } catch {
    tokenizer = await loadTokenizer(policyTokenizerDir);
  }
  return { rewardFn: rewardFnFromModel(model, tokenizer), model };
}

/**
 * `rlhfjs ppo`: PPO (@rlhfjs/ppo) of the starting policy against a reward model, with a value head on the
 * policy and a frozen copy of the start as the KL reference (with `--lora-r`: the policy with its adapter off).
 */
export async function runPpo(options: OptionValues, write: (text: string) => void, log: (text: string) => void): Promise<void> {
  checkModelSource('ppo', options);
  const prompts = await readPrompts(stringOption(options, 'train') as string);
  const evalFile = stringOption(options, 'eval');
  const evalPrompts = evalFile === undefined ? undefined : await readPrompts(evalFile);
  const output = stringOption(options, 'output') as string;
  const reward = await loadRewardFn(stringOption(options, 'rewardModel') as string, stringOption(options, 'tokenizer') ?? (stringOption(options, 'model') as string));
  const optional = (key: string): number | null => (typeof options[key] === 'number' ? (options[key] as number) : null);
  const maxGradNorm = options['maxGradNorm'] as number;
  try {
    await withRlModels(options, true, (models) =>
      withReducer(async (reducer) => {
        const { policy, tokenizer, reference } = models;
        const trainer = new PPOTrainer(
          { policy, reference, rewardFn: reward.rewardFn, tokenizer, prompts, ...(evalPrompts === undefined ? {} : { evalPrompts }), reducer },
          {
            ...numberOptions(options, ['batchSize', 'miniBatchSize', 'ppoEpochs', 'learningRate', 'klCoef', 'adaptiveKlHorizon', 'gamma', 'lambda', 'clipRange', 'clipRangeValue', 'vfCoef', 'maxNewTokens', 'temperature', 'iterations', 'seed']),
            klEstimator: options['klEstimator'] as KlEstimator,
            adaptiveKlTarget: optional('adaptiveKlTarget'),
            missingEosPenalty: optional('missingEosPenalty'),
            scoreClip: optional('scoreClip'),
            targetKl: optional('targetKl'),
            maxGradNorm: maxGradNorm === 0 ? null : maxGradNorm,
            gradientCheckpointing: options['gradientCheckpointing'] === true,
          },
        );
        await runRlLoop(trainer, models, {
          command: 'ppo',
          options,
          output,
          rank: reducer.rank,
          evaluate: evalPrompts !== undefined,
          evalMetricKey: 'eval/score',
          progress: PPO_REPORTED,
          summary: PPO_REPORTED,
          evalLabel: 'eval_score',
          write,
          log,
        });
      }),
    );
  } finally {
    reward.model?.dispose();
  }
}
