import {
  ADVANTAGE_ESTIMATORS, GRPO_LOSS_TYPES, GRPOTrainer, IMPORTANCE_SAMPLING_LEVELS, KL_ESTIMATORS, regexFormatReward, REWARD_SCALINGS,
  type AdvantageEstimator, type GrpoLossType, type ImportanceSamplingLevel, type KlEstimator, type NamedRewardFunction, type RewardScaling,
} from '@rlhfjs/ppo';
import { numberOptions, stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { readPrompts } from '../read_prompts';
import { loadRewardFn } from './ppo_command';
import { runRlLoop, withRlModels } from './rl_run';
import { CONFIG_OPTION, GRADIENT_CHECKPOINTING_OPTION, LORA_OPTIONS, modelAndDataOptions, NPROC_OPTION, OVERWRITE_OPTION } from './shared_options';
import { checkModelSource } from './start_model';
import { withReducer } from './train_run';

export const GRPO_OPTIONS: readonly OptionSpec[] = [
  ...modelAndDataOptions('prompts: JSONL with a string "prompt" field, or text with one prompt a line', 'where the policy (or adapter), tokenizer, checkpoints and grpo_metrics.jsonl are written'),
  { key: 'rewardModel', flag: '--reward-model <dir>', description: 'reward model directory (from rlhfjs reward), or "gold" for the built-in task scorer as a verifiable reward', kind: 'path', required: true },
  { key: 'formatRegex', flag: '--format-regex <re>', description: 'also reward completions that match this regular expression as a whole (unset: no format reward)', kind: 'string' },
  { key: 'formatWeight', flag: '--format-weight <w>', description: 'weight of the format reward', kind: 'number', defaultValue: 1 },
  { key: 'estimator', flag: '--estimator <name>', description: 'advantage estimator', kind: 'string', defaultValue: 'grpo', choices: ADVANTAGE_ESTIMATORS },
  { key: 'iterations', flag: '--iterations <n>', description: 'iterations (generate → score → advantages → updates)', kind: 'integer', defaultValue: 10, min: 1 },
  { key: 'batchSize', flag: '--batch-size <n>', description: 'prompts per iteration (per process)', kind: 'integer', defaultValue: 4, min: 1 },
  { key: 'numGenerations', flag: '--num-generations <n>', description: 'completions sampled per prompt (G)', kind: 'integer', defaultValue: 8, min: 2 },
  { key: 'numIterations', flag: '--num-iterations <n>', description: 'passes over each generation batch (μ)', kind: 'integer', defaultValue: 1, min: 1 },
  { key: 'stepsPerGeneration', flag: '--steps-per-generation <n>', description: 'optimizer steps per generation batch and pass', kind: 'integer', defaultValue: 1, min: 1 },
  { key: 'learningRate', flag: '--learning-rate <lr>', description: 'AdamW learning rate (tiny models want ~1e-3)', kind: 'number', defaultValue: 1e-6, min: 0 },
  { key: 'beta', flag: '--beta <b>', description: 'KL weight β (0: no reference model is loaded)', kind: 'number', defaultValue: 0, min: 0 },
  { key: 'epsilonLow', flag: '--epsilon-low <e>', description: 'lower ratio clip', kind: 'number', defaultValue: 0.2, greaterThan: 0, max: 1 },
  { key: 'epsilonHigh', flag: '--epsilon-high <e>', description: 'upper ratio clip (DAPO clip-higher: 0.28; unset: = epsilon-low)', kind: 'number', greaterThan: 0 },
  { key: 'delta', flag: '--delta <d>', description: 'two-sided clip of the unclipped ratio (unset: off)', kind: 'number', greaterThan: 1 },
  { key: 'lossType', flag: '--loss-type <t>', description: 'loss normalisation', kind: 'string', defaultValue: 'dapo', choices: GRPO_LOSS_TYPES },
  { key: 'importanceSamplingLevel', flag: '--importance-sampling-level <l>', description: 'token ratios, or sequence ratios (GSPO)', kind: 'string', defaultValue: 'token', choices: IMPORTANCE_SAMPLING_LEVELS },
  { key: 'scaleRewards', flag: '--scale-rewards <s>', description: 'divide group advantages by the std of the group, of the batch, or not at all', kind: 'string', defaultValue: 'group', choices: REWARD_SCALINGS },
  { key: 'klEstimator', flag: '--kl-estimator <k>', description: 'KL estimator in the reward of rloo / reinforce++', kind: 'string', defaultValue: 'k1', choices: KL_ESTIMATORS },
  { key: 'maxCompletionLength', flag: '--max-completion-length <n>', description: 'max new tokens per completion', kind: 'integer', defaultValue: 32, min: 1 },
  { key: 'temperature', flag: '--temperature <t>', description: 'sampling temperature (also used to score)', kind: 'number', defaultValue: 1, greaterThan: 0 },
  { key: 'maskTruncatedCompletions', flag: '--mask-truncated-completions', description: 'leave completions without EOS out of the loss', kind: 'boolean', defaultValue: false },
  { key: 'maxGradNorm', flag: '--max-grad-norm <n>', description: 'clip the global gradient norm (0: no clipping)', kind: 'number', defaultValue: 1, min: 0 },
  { key: 'seed', flag: '--seed <n>', description: 'prompt order and sampling seed', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'saveEvery', flag: '--save-every <n>', description: 'write a trainer checkpoint to --output/checkpoint-<iteration> every n iterations (0: never)', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'resumeFrom', flag: '--resume-from <dir>', description: 'resume from a checkpoint directory written by --save-every, or "latest" under --output (an error when there is none)', kind: 'path' },
  OVERWRITE_OPTION,
  GRADIENT_CHECKPOINTING_OPTION,
  ...LORA_OPTIONS,
  NPROC_OPTION,
  CONFIG_OPTION,
];

/**
 * `rlhfjs grpo`: critic-free online RL (@rlhfjs/ppo `GRPOTrainer`: GRPO and its loss variants, RLOO, REINFORCE++)
 * of the starting policy against a reward model or the built-in verifiable gold scorer, optionally plus a format
 * regex reward. With β > 0 the reference is a frozen copy of the start (with `--lora-r`: the policy with its adapter off).
 */
export async function runGrpo(options: OptionValues, write: (text: string) => void, log: (text: string) => void): Promise<void> {
  checkModelSource('grpo', options);
  const prompts = await readPrompts(stringOption(options, 'train') as string);
  const evalFile = stringOption(options, 'eval');
  const evalPrompts = evalFile === undefined ? undefined : await readPrompts(evalFile);
  const output = stringOption(options, 'output') as string;
  const rewardSource = stringOption(options, 'rewardModel') as string;
  const reward = await loadRewardFn(rewardSource, stringOption(options, 'tokenizer') ?? (stringOption(options, 'model') as string));
  const rewardFunctions: NamedRewardFunction[] = [{ name: rewardSource === 'gold' ? 'gold' : 'reward_model', fn: reward.rewardFn }];
  const formatRegex = stringOption(options, 'formatRegex');
  if (formatRegex !== undefined) rewardFunctions.push({ name: 'format', fn: regexFormatReward(new RegExp(formatRegex, 's')), weight: options['formatWeight'] as number });
  const beta = options['beta'] as number;
  const optional = (key: string): number | undefined => (typeof options[key] === 'number' ? (options[key] as number) : undefined);
  const maxGradNorm = options['maxGradNorm'] as number;
  try {
    await withRlModels(options, beta > 0, (models) =>
      withReducer(async (reducer) => {
        const { policy, tokenizer, reference } = models;
        const epsilonHigh = optional('epsilonHigh');
        const trainer = new GRPOTrainer(
          { policy, ...(reference === undefined ? {} : { reference }), rewardFunctions, tokenizer, prompts, ...(evalPrompts === undefined ? {} : { evalPrompts }), reducer },
          {
            ...numberOptions(options, ['batchSize', 'numGenerations', 'numIterations', 'stepsPerGeneration', 'learningRate', 'epsilonLow', 'maxCompletionLength', 'temperature', 'iterations', 'seed']),
            estimator: options['estimator'] as AdvantageEstimator,
            beta,
            ...(epsilonHigh === undefined ? {} : { epsilonHigh }),
            delta: optional('delta') ?? null,
            lossType: options['lossType'] as GrpoLossType,
            importanceSamplingLevel: options['importanceSamplingLevel'] as ImportanceSamplingLevel,
            scaleRewards: options['scaleRewards'] as RewardScaling,
            klEstimator: options['klEstimator'] as KlEstimator,
            maskTruncatedCompletions: options['maskTruncatedCompletions'] === true,
            maxGradNorm: maxGradNorm === 0 ? null : maxGradNorm,
            gradientCheckpointing: options['gradientCheckpointing'] === true,
          },
        );
        await runRlLoop(trainer, models, {
          command: 'grpo',
          options,
          output,
          rank: reducer.rank,
          evaluate: evalPrompts !== undefined,
          progress: { reward: 'reward', reward_std: 'reward_std', kl: 'kl', loss: 'loss' },
          summary: { reward: 'reward', kl: 'kl', loss: 'loss' },
          evalLabel: 'eval_reward',
          write,
          log,
        });
      }),
    );
  } finally {
    reward.model?.dispose();
  }
}
