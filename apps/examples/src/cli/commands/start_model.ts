import { promises as fs } from 'fs';
import {
  CheckpointError,
  ConfigError,
  createCausalLM,
  loadCausalLM,
  loadTokenizer,
  modelConfigOptionsOf,
  parseHfConfig,
  TokenizerError,
  type CausalLM,
  type ModelConfigOptions,
  type Tokenizer,
} from '@rlhfjs/core';
import { applyLora, type TargetModules } from '@rlhfjs/lora';
import { numberOption, stringOption, type OptionValues } from '../option_spec';

/** `--from-scratch` file: an HF config.json (it has `model_type`) or core's camelCase ModelConfigOptions. */
export async function readScratchConfig(file: string): Promise<ModelConfigOptions> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof SyntaxError ? `not valid JSON: ${error.message}` : ((error as NodeJS.ErrnoException).code ?? String(error));
    throw new ConfigError('--from-scratch', [`cannot read ${file}: ${reason}`]);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError('--from-scratch', [`${file} must hold a JSON object`]);
  if (!('model_type' in json)) return json as ModelConfigOptions;
  return modelConfigOptionsOf(parseHfConfig(json, file));
}

/** Checks that exactly one of --model / --from-scratch is given and that a scratch model has a tokenizer. */
export function checkModelSource(command: string, options: OptionValues): void {
  const model = stringOption(options, 'model');
  const scratch = stringOption(options, 'fromScratch');
  const problems: string[] = [];
  if ((model === undefined) === (scratch === undefined)) problems.push('give exactly one of --model and --from-scratch');
  if (scratch !== undefined && stringOption(options, 'tokenizer') === undefined) problems.push('--from-scratch needs --tokenizer');
  if (problems.length > 0) throw new ConfigError(`rlhfjs ${command}`, problems);
}

/** The model a trainer starts from (loaded, or freshly initialised with `--seed`) and its tokenizer. */
export async function loadStartModel(options: OptionValues): Promise<{ model: CausalLM; tokenizer: Tokenizer }> {
  const modelDir = stringOption(options, 'model');
  const tokenizer = await loadTokenizer(stringOption(options, 'tokenizer') ?? (modelDir as string));
  const scratch = stringOption(options, 'fromScratch');
  const model = scratch !== undefined ? createCausalLM(await readScratchConfig(scratch), { seed: numberOption(options, 'seed') }) : await loadCausalLM(modelDir as string);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    model.dispose();
    throw new TokenizerError(`the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${model.config.vocabSize}`);
  }
  return { model, tokenizer };
}

/** A second, never-trained copy of the starting model (the frozen reference of DPO and PPO). */
export async function loadReferenceCopy(options: OptionValues): Promise<CausalLM> {
  const scratch = stringOption(options, 'fromScratch');
  if (scratch !== undefined) return createCausalLM(await readScratchConfig(scratch), { seed: numberOption(options, 'seed') });
  const modelDir = stringOption(options, 'model');
  if (modelDir === undefined) throw new CheckpointError('no --model to load a reference copy from');
  return loadCausalLM(modelDir);
}

/** `--lora-targets`: 'all-linear' or a comma-separated list of module names. */
export function parseLoraTargets(text: string): TargetModules {
  if (text === 'all-linear') return 'all-linear';
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new ConfigError('--lora-targets', [`expected all-linear or module names separated by commas, got ${JSON.stringify(text)}`]);
  return names;
}

/** Applies a LoRA adapter when `--lora-r` is set; returns whether it did (the base weights are then frozen). */
export function maybeApplyLora(model: CausalLM, options: OptionValues): boolean {
  const r = options['loraR'];
  if (typeof r !== 'number') return false;
  applyLora(model, {
    r,
    alpha: numberOption(options, 'loraAlpha'),
    dropout: numberOption(options, 'loraDropout'),
    targetModules: parseLoraTargets(stringOption(options, 'loraTargets') ?? 'all-linear'),
    seed: numberOption(options, 'seed'),
  });
  return true;
}
