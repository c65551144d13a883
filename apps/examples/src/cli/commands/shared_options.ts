import type { OptionSpec } from '../option_spec';

export const CONFIG_OPTION: OptionSpec = { key: 'config', flag: '--config <file>', description: 'YAML or JSON file of options (flags override it)', kind: 'path' };

export const GENERATION_OPTIONS: readonly OptionSpec[] = [
  { key: 'tokenizer', flag: '--tokenizer <dir>', description: 'tokenizer directory (tokenizer.json, tokenizer_config.json); defaults to the model directory', kind: 'path' },
  { key: 'maxNewTokens', flag: '--max-new-tokens <n>', description: 'tokens to generate at most', kind: 'integer', defaultValue: 24, min: 1 },
  { key: 'doSample', flag: '--do-sample', description: 'sample instead of greedy decoding', kind: 'boolean', defaultValue: false },
  { key: 'temperature', flag: '--temperature <t>', description: 'sampling temperature', kind: 'number', defaultValue: 1, greaterThan: 0 },
  { key: 'topK', flag: '--top-k <k>', description: 'sample from the k most likely tokens (0: off)', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'topP', flag: '--top-p <p>', description: 'nucleus sampling mass (1: off)', kind: 'number', defaultValue: 1, greaterThan: 0, max: 1 },
  { key: 'seed', flag: '--seed <n>', description: 'random seed', kind: 'integer', defaultValue: 0 },
  { key: 'batchSize', flag: '--batch-size <n>', description: 'prompts generated together', kind: 'integer', defaultValue: 32, min: 1 },
];

/** Options every trainer subcommand shares. */
export function trainerOptions(extra: readonly OptionSpec[], modelRequired: boolean): OptionSpec[] {
  return [
    { key: 'model', flag: '--model <dir>', description: 'HF model directory to start from (config.json + model.safetensors)', kind: 'path', required: modelRequired },
    { key: 'tokenizer', flag: '--tokenizer <dir>', description: 'tokenizer directory; defaults to the model directory', kind: 'path' },
    { key: 'trainFile', flag: '--train-file <file>', description: 'training data (JSONL in TRL format)', kind: 'path', required: true },
    { key: 'evalFile', flag: '--eval-file <file>', description: 'held-out data (JSONL in TRL format)', kind: 'path' },
    { key: 'outputDir', flag: '--output-dir <dir>', description: 'where the trained model is written', kind: 'path', required: true },
    { key: 'learningRate', flag: '--learning-rate <lr>', description: 'AdamW learning rate', kind: 'number', defaultValue: 1e-4, greaterThan: 0 },
    { key: 'epochs', flag: '--epochs <n>', description: 'passes over the training data', kind: 'number', defaultValue: 1, greaterThan: 0 },
    { key: 'batchSize', flag: '--batch-size <n>', description: 'per-device batch size', kind: 'integer', defaultValue: 8, min: 1 },
    { key: 'gradientAccumulationSteps', flag: '--gradient-accumulation-steps <n>', description: 'micro-batches per optimizer step', kind: 'integer', defaultValue: 1, min: 1 },
    { key: 'maxLength', flag: '--max-length <n>', description: 'truncate sequences to this many tokens', kind: 'integer', defaultValue: 64, min: 2 },
    { key: 'seed', flag: '--seed <n>', description: 'random seed', kind: 'integer', defaultValue: 0 },
    { key: 'loggingSteps', flag: '--logging-steps <n>', description: 'log metrics every n steps', kind: 'integer', defaultValue: 10, min: 1 },
    { key: 'nprocPerNode', flag: '--nproc-per-node <n>', description: 'data-parallel processes to launch on this machine (via @rlhfjs/dist)', kind: 'integer', defaultValue: 1, min: 1 },
    ...extra,
  ];
}
