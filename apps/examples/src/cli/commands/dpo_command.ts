import type { CausalLM, PreferenceRecord } from '@rlhfjs/core';
import { saveAdapter, withAdaptersDisabled } from '@rlhfjs/lora';
import { DPO_LOSS_TYPES, DPOTrainer, REFERENCE_FREE_DPO_LOSS_TYPES, type DpoLossType, type ReferencePolicy } from '@rlhfjs/dpo';
import { stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { savePolicy } from './save_policy';
import { CONFIG_OPTION, GRADIENT_CHECKPOINTING_OPTION, LOOP_OPTIONS, LORA_OPTIONS, modelAndDataOptions, NPROC_OPTION } from './shared_options';
import { checkModelSource, loadReferenceCopy, loadStartModel, maybeApplyLora } from './start_model';
import { lastMetric, loadRecords, loopOptions, summaryLine, withReducer } from './train_run';

export const DPO_OPTIONS: readonly OptionSpec[] = [
  ...modelAndDataOptions(
    'preference pairs: JSONL of {prompt, chosen, rejected} (plain or conversational)',
    'where the policy (or adapter), tokenizer, checkpoints and dpo_metrics.jsonl are written',
  ),
  ...LOOP_OPTIONS,
  { key: 'beta', flag: '--beta <b>', description: 'DPO temperature β (τ for ipo)', kind: 'number', defaultValue: 0.1, greaterThan: 0 },
  { key: 'lossType', flag: '--loss-type <type>', description: 'loss of the DPO family (TRL names)', kind: 'string', defaultValue: 'sigmoid', choices: DPO_LOSS_TYPES },
  { key: 'labelSmoothing', flag: '--label-smoothing <e>', description: 'conservative DPO label smoothing ε', kind: 'number', defaultValue: 0, min: 0, max: 0.49 },
  { key: 'maxLength', flag: '--max-length <n>', description: 'longest prompt + completion in tokens', kind: 'integer', defaultValue: 1024, min: 2 },
  { key: 'maxPromptLength', flag: '--max-prompt-length <n>', description: 'longest prompt (its last tokens are kept)', kind: 'integer', defaultValue: 512, min: 1 },
  { key: 'precomputeReferenceLogProbs', flag: '--precompute-reference-log-probs', description: 'score the data under the reference once before training', kind: 'boolean', defaultValue: false },
  GRADIENT_CHECKPOINTING_OPTION,
  ...LORA_OPTIONS,
  NPROC_OPTION,
  CONFIG_OPTION,
];

/**
 * `rlhfjs dpo`: direct preference optimisation with @rlhfjs/dpo. The reference is a frozen second copy of the
 * starting model; with `--lora-r` it is the same model with its adapter switched off (no second copy); the
 * reference-free losses (simpo, orpo) use none.
 */
export async function runDpo(options: OptionValues, write: (text: string) => void): Promise<void> {
  checkModelSource('dpo', options);
  const trainDataset = (await loadRecords(stringOption(options, 'train') as string, ['preference'], '--train')) as readonly PreferenceRecord[];
  const evalFile = stringOption(options, 'eval');
  const evalDataset = evalFile === undefined ? undefined : ((await loadRecords(evalFile, ['preference'], '--eval')) as readonly PreferenceRecord[]);
  const output = stringOption(options, 'output') as string;
  const lossType = stringOption(options, 'lossType') as DpoLossType;
  const { model, tokenizer } = await loadStartModel(options);
  let referenceModel: CausalLM | null = null;
  try {
    const lora = maybeApplyLora(model, options);
    let reference: ReferencePolicy;
    if (REFERENCE_FREE_DPO_LOSS_TYPES.includes(lossType)) reference = { kind: 'none' };
    else if (lora) reference = { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => withAdaptersDisabled(model, fn) };
    else {
      referenceModel = await loadReferenceCopy(options);
      reference = { kind: 'frozen', model: referenceModel };
    }
    await withReducer(async (reducer) => {
      const trainer = new DPOTrainer(
        // checkpoint-N/ holds what savePolicy writes: the adapter under --lora-r, else the whole model
        { model, tokenizer, trainDataset, ...(evalDataset === undefined ? {} : { evalDataset }), reference, reducer, ...(lora ? { saveModel: (directory: string) => saveAdapter(model, directory) } : {}) },
        {
          ...loopOptions(options),
          beta: options['beta'] as number,
          lossType,
          labelSmoothing: options['labelSmoothing'] as number,
          maxLength: options['maxLength'] as number,
          maxPromptLength: options['maxPromptLength'] as number,
          precomputeReferenceLogProbs: options['precomputeReferenceLogProbs'] === true,
          gradientCheckpointing: options['gradientCheckpointing'] === true,
        },
      );
      try {
        const result = await trainer.train();
        if (reducer.rank !== 0) return;
        const saved = await savePolicy(model, tokenizer, output, lora);
        const evalAccuracy = lastMetric(result.evaluations, 'eval/rewards/accuracies');
        write(
          summaryLine('dpo', {
            steps: result.steps,
            loss: lastMetric(result.history, 'loss'),
            accuracy: lastMetric(result.history, 'rewards/accuracies'),
            margin: lastMetric(result.history, 'rewards/margins'),
            ...(evalAccuracy === null ? {} : { eval_loss: lastMetric(result.evaluations, 'eval/loss'), eval_accuracy: evalAccuracy }),
            saved,
            output,
          }),
        );
      } finally {
        trainer.dispose();
      }
    });
  } finally {
    model.dispose();
    referenceModel?.dispose();
  }
}
