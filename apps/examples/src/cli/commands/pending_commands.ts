import { RlhfError } from '@rlhfjs/core';
import type { OptionSpec, OptionValues } from '../option_spec';
import { CONFIG_OPTION, trainerOptions } from './shared_options';

/** A subcommand whose implementation waits on a library export (a trainer, adapter merging, quantization). */
export interface PendingCommand {
  readonly name: string;
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /** Package and export the command needs. */
  readonly needs: { readonly pkg: string; readonly exportName: string; readonly load: () => Promise<Readonly<Record<string, unknown>>> };
}

export const PENDING_COMMANDS: readonly PendingCommand[] = [
  {
    name: 'sft',
    summary: 'supervised fine-tuning on {prompt, completion} or {messages} JSONL',
    options: [
      ...trainerOptions([{ key: 'completionOnlyLoss', flag: '--completion-only-loss', description: 'train on completion tokens only', kind: 'boolean', defaultValue: true }], false),
      CONFIG_OPTION,
    ],
    needs: { pkg: '@rlhfjs/core', exportName: 'SFTTrainer', load: () => import('@rlhfjs/core') },
  },
  {
    name: 'reward',
    summary: 'train a reward model on {prompt, chosen, rejected} JSONL',
    options: [...trainerOptions([{ key: 'margin', flag: '--margin <m>', description: 'margin in -log σ(r_c - r_r - m)', kind: 'number', defaultValue: 0 }], true), CONFIG_OPTION],
    needs: { pkg: '@rlhfjs/reward', exportName: 'RewardTrainer', load: () => import('@rlhfjs/reward') },
  },
  {
    name: 'dpo',
    summary: 'direct preference optimisation on {prompt, chosen, rejected} JSONL',
    options: [
      ...trainerOptions(
        [
          { key: 'beta', flag: '--beta <b>', description: 'DPO temperature β', kind: 'number', defaultValue: 0.1, greaterThan: 0 },
          { key: 'lossType', flag: '--loss-type <type>', description: 'DPO loss', kind: 'string', defaultValue: 'sigmoid', choices: ['sigmoid', 'hinge', 'ipo'] },
          { key: 'labelSmoothing', flag: '--label-smoothing <e>', description: 'conservative DPO label smoothing', kind: 'number', defaultValue: 0, min: 0, max: 0.5 },
        ],
        true,
      ),
      CONFIG_OPTION,
    ],
    needs: { pkg: '@rlhfjs/dpo', exportName: 'DPOTrainer', load: () => import('@rlhfjs/dpo') },
  },
  {
    name: 'ppo',
    summary: 'PPO against a reward model on {prompt} JSONL',
    options: [
      ...trainerOptions(
        [
          { key: 'rewardModel', flag: '--reward-model <dir>', description: 'reward model directory (or "gold" for the built-in task scorer)', kind: 'path', required: true },
          { key: 'klCoef', flag: '--kl-coef <beta>', description: 'initial KL coefficient β', kind: 'number', defaultValue: 0.05, min: 0 },
          { key: 'targetKl', flag: '--target-kl <kl>', description: 'target KL of the adaptive controller (0: fixed β)', kind: 'number', defaultValue: 0, min: 0 },
          { key: 'maxNewTokens', flag: '--max-new-tokens <n>', description: 'rollout length', kind: 'integer', defaultValue: 24, min: 1 },
          { key: 'ppoEpochs', flag: '--ppo-epochs <n>', description: 'optimisation epochs per rollout batch', kind: 'integer', defaultValue: 4, min: 1 },
        ],
        true,
      ),
      CONFIG_OPTION,
    ],
    needs: { pkg: '@rlhfjs/ppo', exportName: 'PPOTrainer', load: () => import('@rlhfjs/ppo') },
  },
  {
    name: 'merge-adapter',
    summary: 'merge a PEFT LoRA adapter into its base model and save the full model',
    options: [
      { key: 'model', flag: '--model <dir>', description: 'base HF model directory', kind: 'path', required: true },
      { key: 'adapter', flag: '--adapter <dir>', description: 'PEFT adapter directory (adapter_config.json + adapter_model.safetensors)', kind: 'path', required: true },
      { key: 'outputDir', flag: '--output-dir <dir>', description: 'where the merged model is written', kind: 'path', required: true },
      CONFIG_OPTION,
    ],
    needs: { pkg: '@rlhfjs/lora', exportName: 'mergeAndUnloadAdapters', load: () => import('@rlhfjs/lora') },
  },
  {
    name: 'quantize',
    summary: 'quantize a model\'s linear layers to 4 bits (NF4/FP4, bitsandbytes layout)',
    options: [
      { key: 'model', flag: '--model <dir>', description: 'HF model directory', kind: 'path', required: true },
      { key: 'outputDir', flag: '--output-dir <dir>', description: 'where the quantized model is written', kind: 'path', required: true },
      { key: 'quantType', flag: '--quant-type <type>', description: '4-bit data type', kind: 'string', defaultValue: 'nf4', choices: ['nf4', 'fp4'] },
      { key: 'blockSize', flag: '--block-size <n>', description: 'values per absmax block', kind: 'integer', defaultValue: 64, min: 1 },
      CONFIG_OPTION,
    ],
    needs: { pkg: '@rlhfjs/lora', exportName: 'saveQuantizedModel', load: () => import('@rlhfjs/lora') },
  },
];

/** Whether the library export a pending command needs exists yet. */
export async function commandAvailable(command: PendingCommand): Promise<boolean> {
  const module = await command.needs.load();
  return typeof module[command.needs.exportName] === 'function';
}

/** Runs a pending command: for now, a clear error (exit 1) naming what it waits for. */
export async function runPending(command: PendingCommand, _options: OptionValues): Promise<void> {
  const what = `${command.needs.exportName} from ${command.needs.pkg}`;
  if (!(await commandAvailable(command))) throw new RlhfError('NOT_AVAILABLE', `rlhfjs ${command.name} is not available yet: it needs ${what}, which this build does not export`);
  throw new RlhfError('NOT_AVAILABLE', `rlhfjs ${command.name} is not wired to ${what} yet in this CLI`);
}
