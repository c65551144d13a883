// adapter_config.json as PEFT 0.14 writes it for a LoraConfig (peft/tuners/lora/config.py; PeftConfig.save_pretrained
// sets inference_mode true in the saved file). Readers ignore keys they do not know, as PEFT's from_pretrained
// drops unknown keys with a warning; keys that change the math and are not supported here are rejected.
import { CheckpointError } from '@rlhfjs/core';
import type { LoraConfig, LoraInitialization, LoraOptions, TargetModules } from '../lora/lora_config';

/** The fields of adapter_config.json, in the key order PEFT writes (sorted). */
export interface PeftLoraConfigJson {
  alpha_pattern: Record<string, number>;
  auto_mapping: null;
  base_model_name_or_path: string | null;
  bias: 'none';
  eva_config: null;
  exclude_modules: null;
  fan_in_fan_out: boolean;
  inference_mode: boolean;
  init_lora_weights: boolean | 'gaussian';
  layer_replication: null;
  layers_pattern: null;
  layers_to_transform: null;
  loftq_config: Record<string, never>;
  lora_alpha: number;
  lora_bias: false;
  lora_dropout: number;
  megatron_config: null;
  megatron_core: string;
  modules_to_save: null;
  peft_type: 'LORA';
  r: number;
  rank_pattern: Record<string, number>;
  revision: null;
  target_modules: string[] | string;
  task_type: 'CAUSAL_LM';
  use_dora: false;
  use_rslora: boolean;
}

function initLoraWeights(initialization: LoraInitialization): boolean | 'gaussian' {
  switch (initialization) {
    case 'kaiming':
      return true;
    case 'gaussian':
      return 'gaussian';
    case 'random':
      return false;
    default: {
      const unreachable: never = initialization;
      throw new CheckpointError(`saveAdapter: unknown initialization ${String(unreachable)}`);
    }
  }
}

export interface PeftConfigContext {
  /** `target_modules` as it should be stored (see targetModulesForConfig). */
  targetModules: string[] | string;
  /** True for GPT-2 Conv1D modules (PEFT sets it for Conv1D targets). */
  fanInFanOut: boolean;
  baseModelNameOrPath: string | null;
}

export function peftConfigJson(config: LoraConfig, context: PeftConfigContext): PeftLoraConfigJson {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: context.baseModelNameOrPath,
    bias: 'none',
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: context.fanInFanOut,
    inference_mode: true,
    init_lora_weights: initLoraWeights(config.initialization),
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.alpha,
    lora_bias: false,
    lora_dropout: config.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: context.targetModules,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: config.useRslora,
  };
}

/** What loadAdapter takes from adapter_config.json. */
export interface ParsedPeftConfig {
  readonly options: Required<Pick<LoraOptions, 'r' | 'alpha' | 'dropout' | 'useRslora' | 'initialization' | 'targetModules'>>;
  readonly fanInFanOut: boolean;
  /** target_modules as the file has it (a regex string or a list). */
  readonly targetModulesJson: string[] | string;
}

/** Validates the keys loadAdapter relies on; collects every problem into one CheckpointError. */
export function parsePeftConfig(json: unknown, file: string): ParsedPeftConfig {
  const problems: string[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CheckpointError(`loadAdapter: ${file} must hold a JSON object`, { code: 'ADAPTER_CONFIG' });
  }
  const raw = json as Record<string, unknown>;
  const typed = <T>(key: string, check: (value: unknown) => value is T, expected: string, fallback: T, required = false): T => {
    if (!(key in raw) || (raw[key] === null && !required)) {
      if (required) problems.push(`"${key}" is missing (expected ${expected})`);
      return fallback;
    }
    const value = raw[key];
    if (!check(value)) {
      problems.push(`"${key}" must be ${expected}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  };
  const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
  const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
  const isString = (value: unknown): value is string => typeof value === 'string';
  const isTargets = (value: unknown): value is string[] | string =>
    typeof value === 'string' || (Array.isArray(value) && value.length > 0 && value.every((entry) => typeof entry === 'string' && entry.length > 0));

  const peftType = typed('peft_type', isString, 'a string', 'LORA', true);
  if (peftType !== 'LORA') problems.push(`"peft_type" is ${JSON.stringify(peftType)}; only "LORA" adapters are supported`);
  const r = typed('r', isNumber, 'a positive integer', 8, true);
  if (!Number.isInteger(r) || r <= 0) problems.push(`"r" must be a positive integer, got ${r}`);
  const alpha = typed('lora_alpha', isNumber, 'a number', 8, true);
  const dropout = typed('lora_dropout', isNumber, 'a number in [0, 1)', 0);
  if (!(dropout >= 0 && dropout < 1)) problems.push(`"lora_dropout" must be in [0, 1), got ${dropout}`);
  const useRslora = typed('use_rslora', isBoolean, 'a boolean', false);
  const fanInFanOut = typed('fan_in_fan_out', isBoolean, 'a boolean', false);
  const targets = typed('target_modules', isTargets, 'a non-empty list of module names or a regex string', [] as string[] | string, true);
  const init = typed('init_lora_weights', (value: unknown): value is boolean | string => typeof value === 'boolean' || typeof value === 'string', 'a boolean or a string', true as boolean | string);
  const initialization: LoraInitialization = init === 'gaussian' ? 'gaussian' : init === false ? 'random' : 'kaiming';

  // Features that change the adapter's math: refuse rather than load something different from PEFT.
  const unsupported = (key: string, isDefault: (value: unknown) => boolean, meaning: string) => {
    if (key in raw && raw[key] !== null && !isDefault(raw[key])) problems.push(`"${key}" = ${JSON.stringify(raw[key])} (${meaning}) is not supported`);
  };
  const emptyObject = (value: unknown) => typeof value === 'object' && value !== null && Object.keys(value).length === 0;
  const emptyList = (value: unknown) => Array.isArray(value) && value.length === 0;
  unsupported('use_dora', (value) => value === false, 'DoRA');
  unsupported('lora_bias', (value) => value === false, 'trainable LoRA bias');
  unsupported('bias', (value) => value === 'none', 'trained base biases');
  unsupported('rank_pattern', emptyObject, 'per-module ranks');
  unsupported('alpha_pattern', emptyObject, 'per-module alphas');
  unsupported('modules_to_save', emptyList, 'fully trained extra modules');
  unsupported('layers_to_transform', emptyList, 'layer subsets');
  unsupported('layer_replication', emptyList, 'layer replication');
  unsupported('exclude_modules', (value) => emptyList(value) || value === '', 'excluded modules');
  if (problems.length > 0) {
    throw new CheckpointError(`loadAdapter: ${file} is not a usable LoRA adapter config: ${problems.join('; ')}`, { code: 'ADAPTER_CONFIG' });
  }
  let targetModules: TargetModules;
  try {
    targetModules = typeof targets === 'string' ? (targets === 'all-linear' ? 'all-linear' : new RegExp(targets)) : [...targets];
  } catch (error) {
    throw new CheckpointError(`loadAdapter: ${file} has "target_modules" ${JSON.stringify(targets)}, not a valid regular expression`, { code: 'ADAPTER_CONFIG', cause: error });
  }
  return {
    options: { r, alpha, dropout, useRslora, initialization, targetModules },
    fanInFanOut,
    targetModulesJson: targets,
  };
}
