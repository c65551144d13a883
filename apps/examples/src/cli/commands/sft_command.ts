import { SFTTrainer, type SftRecord } from '@rlhfjs/core';
import { stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { checkQuantizeOption, maybeQuantize, QUANTIZE_OPTION } from './qlora_option';
import { policyWriter, savePolicy } from './save_policy';
import { CONFIG_OPTION, GRADIENT_CHECKPOINTING_OPTION, LOOP_OPTIONS, LORA_OPTIONS, modelAndDataOptions, NPROC_OPTION } from './shared_options';
import { checkModelSource, loadStartModel, maybeApplyLora } from './start_model';
import { lastMetric, loadRecords, loopOptions, summaryLine, withReducer } from './train_run';

export const SFT_OPTIONS: readonly OptionSpec[] = [
  ...modelAndDataOptions('training data: JSONL of {prompt, completion}, {messages} or {text} (TRL formats)', 'where the model (or adapter), tokenizer, checkpoints and sft_metrics.jsonl are written'),
  ...LOOP_OPTIONS,
  { key: 'maxLength', flag: '--max-length <n>', description: 'longest tokenized example', kind: 'integer', defaultValue: 512, min: 2 },
  { key: 'completionOnlyLoss', flag: '--completion-only-loss <bool>', description: 'train on completion / assistant tokens only', kind: 'boolean', defaultValue: true },
  { key: 'packing', flag: '--packing', description: 'pack short examples into rows of --max-length', kind: 'boolean', defaultValue: false },
  GRADIENT_CHECKPOINTING_OPTION,
  ...LORA_OPTIONS,
  QUANTIZE_OPTION,
  NPROC_OPTION,
  CONFIG_OPTION,
];

/** `rlhfjs sft`: supervised fine-tuning with core's SFTTrainer (full, LoRA with `--lora-r`, QLoRA with `--quantize`). */
export async function runSft(options: OptionValues, write: (text: string) => void): Promise<void> {
  checkModelSource('sft', options);
  checkQuantizeOption('sft', options);
  const formats = ['prompt_completion', 'conversational', 'language_modeling'] as const;
  const trainDataset = (await loadRecords(stringOption(options, 'train') as string, formats, '--train')) as readonly SftRecord[];
  const evalFile = stringOption(options, 'eval');
  const evalDataset = evalFile === undefined ? undefined : ((await loadRecords(evalFile, formats, '--eval')) as readonly SftRecord[]);
  const output = stringOption(options, 'output') as string;
  const { model, tokenizer } = await loadStartModel(options);
  try {
    const quantized = maybeQuantize(model, options);
    const lora = maybeApplyLora(model, options);
    await withReducer(async (reducer) => {
      const trainer = new SFTTrainer(
        { model, tokenizer, trainDataset, ...(evalDataset === undefined ? {} : { evalDataset }), reducer, saveModel: policyWriter(model, tokenizer, lora) },
        {
          ...loopOptions(options),
          maxLength: options['maxLength'] as number,
          completionOnlyLoss: options['completionOnlyLoss'] === true,
          packing: options['packing'] === true,
          gradientCheckpointing: options['gradientCheckpointing'] === true,
        },
      );
      try {
        const result = await trainer.train();
        if (reducer.rank !== 0) return;
        const saved = await savePolicy(model, tokenizer, output, lora);
        const evalLoss = lastMetric(result.evaluations, 'eval/loss');
        write(summaryLine('sft', { steps: result.steps, loss: lastMetric(result.history, 'loss'), ...(evalLoss === null ? {} : { eval_loss: evalLoss }), ...(quantized === null ? {} : { quantize: quantized }), saved, output }));
      } finally {
        trainer.dispose();
      }
    });
  } finally {
    model.dispose();
  }
}
