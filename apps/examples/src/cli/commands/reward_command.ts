import { RewardModel, RewardTrainer, saveRewardModel, type PreferenceExample } from '@rlhfjs/reward';
import { removeLora } from '@rlhfjs/lora';
import { stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { CONFIG_OPTION, GRADIENT_CHECKPOINTING_OPTION, LOOP_OPTIONS, LORA_OPTIONS, modelAndDataOptions, NPROC_OPTION } from './shared_options';
import { checkModelSource, loadStartModel, maybeApplyLora } from './start_model';
import { lastMetric, loadRecords, loopOptions, saveInto, summaryLine, withReducer } from './train_run';

export const REWARD_OPTIONS: readonly OptionSpec[] = [
  ...modelAndDataOptions(
    'preference pairs: JSONL of {prompt, chosen, rejected} (or implicit-prompt {chosen, rejected}; optional "margin")',
    'where the reward model (HF *ForSequenceClassification layout), tokenizer, checkpoints and reward_metrics.jsonl are written',
  ),
  ...LOOP_OPTIONS,
  { key: 'maxLength', flag: '--max-length <n>', description: 'pairs with a side longer than this are dropped (as TRL)', kind: 'integer', defaultValue: 1024, min: 2 },
  { key: 'centerRewardsCoefficient', flag: '--center-rewards-coefficient <c>', description: "TRL's auxiliary loss pulling rewards towards 0 (unset: off)", kind: 'number', min: 0 },
  { key: 'evalBatchSize', flag: '--eval-batch-size <n>', description: 'pairs per evaluation forward pass', kind: 'integer', defaultValue: 16, min: 1 },
  GRADIENT_CHECKPOINTING_OPTION,
  ...LORA_OPTIONS,
  NPROC_OPTION,
  CONFIG_OPTION,
];

/**
 * `rlhfjs reward`: a reward model (backbone + scalar head) trained on preference pairs with @rlhfjs/reward. With
 * `--lora-r` the backbone trains through a LoRA adapter (the head trains fully); the adapter is merged before
 * saving, so the output is always a complete reward model that `rlhfjs ppo --reward-model` and transformers load.
 */
export async function runReward(options: OptionValues, write: (text: string) => void): Promise<void> {
  checkModelSource('reward', options);
  const trainDataset = (await loadRecords(stringOption(options, 'train') as string, ['preference'], '--train')) as readonly PreferenceExample[];
  const evalFile = stringOption(options, 'eval');
  const evalDataset = evalFile === undefined ? undefined : ((await loadRecords(evalFile, ['preference'], '--eval')) as readonly PreferenceExample[]);
  const output = stringOption(options, 'output') as string;
  const { model: backbone, tokenizer } = await loadStartModel(options);
  let rewardModel: RewardModel | null = null;
  try {
    const lora = maybeApplyLora(backbone, options);
    rewardModel = RewardModel.fromCausalLM(backbone, { seed: options['seed'] as number, padTokenId: tokenizer.padTokenId });
    const model = rewardModel;
    const center = options['centerRewardsCoefficient'];
    await withReducer(async (reducer) => {
      const trainer = new RewardTrainer(
        {
          model,
          tokenizer,
          trainDataset,
          ...(evalDataset === undefined ? {} : { evalDataset }),
          reducer,
          // checkpoint-N/ holds the reward model (not while LoRA layers are in: the final save merges them first)
          ...(lora
            ? {}
            : {
                saveModel: async (directory: string) => {
                  await saveRewardModel(model, directory);
                  await tokenizer.save(directory);
                },
              }),
        },
        {
          ...loopOptions(options),
          maxLength: options['maxLength'] as number,
          evalBatchSize: options['evalBatchSize'] as number,
          gradientCheckpointing: options['gradientCheckpointing'] === true,
          ...(typeof center === 'number' ? { centerRewardsCoefficient: center } : {}),
        },
      );
      try {
        const result = await trainer.train();
        if (reducer.rank !== 0) return;
        if (lora) removeLora(backbone, { merge: true });
        await saveInto(output, async (directory) => {
          await saveRewardModel(model, directory);
          await tokenizer.save(directory);
        });
        const last = result.evaluations[result.evaluations.length - 1];
        write(
          summaryLine('reward', {
            steps: result.steps,
            loss: lastMetric(result.history, 'loss'),
            accuracy: lastMetric(result.history, 'accuracy'),
            ...(last === undefined ? {} : { eval_accuracy: last.accuracy, eval_margin: last.meanMargin }),
            saved: lora ? 'model(lora-merged)' : 'model',
            output,
          }),
        );
      } finally {
        trainer.dispose();
      }
    });
  } finally {
    if (rewardModel !== null) rewardModel.dispose();
    else backbone.dispose();
  }
}
