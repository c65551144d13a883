import type { OptionSpec } from '../option_spec';

export const CONFIG_OPTION: OptionSpec = { key: 'config', flag: '--config <file>', description: 'YAML or JSON file of options (flags override it)', kind: 'path' };

export const GENERATION_OPTIONS: readonly OptionSpec[] = [
  { key: 'tokenizer', flag: '--tokenizer <dir>', description: 'tokenizer directory (tokenizer.json, tokenizer_config.json); defaults to the model directory', kind: 'path' },
  { key: 'maxNewTokens', flag: '--max-new-tokens <n>', description: 'tokens to generate at most', kind: 'integer', defaultValue: 24, min: 1 },
  { key: 'doSample', flag: '--do-sample', description: 'sample instead of greedy decoding', kind: 'boolean', defaultValue: false },
  { key: 'temperature', flag: '--temperature <t>', description: 'sampling temperature (0: greedy decoding)', kind: 'number', defaultValue: 1, min: 0 },
  { key: 'topK', flag: '--top-k <k>', description: 'sample from the k most likely tokens (0: off)', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'topP', flag: '--top-p <p>', description: 'nucleus sampling mass (1: off)', kind: 'number', defaultValue: 1, greaterThan: 0, max: 1 },
  { key: 'seed', flag: '--seed <n>', description: 'random seed', kind: 'integer', defaultValue: 0 },
  { key: 'batchSize', flag: '--batch-size <n>', description: 'prompts generated together', kind: 'integer', defaultValue: 32, min: 1 },
];

/** Where the starting model comes from, the data files and the output directory: every trainer subcommand has them. */
export function modelAndDataOptions(trainDescription: string, outputDescription: string): OptionSpec[] {
  return [
    { key: 'model', flag: '--model <dir>', description: 'HF model directory to start from (config.json + model.safetensors); or use --from-scratch', kind: 'path' },
    { key: 'fromScratch', flag: '--from-scratch <file>', description: 'start from a randomly initialised model: an HF config.json, or JSON of core ModelConfigOptions (needs --tokenizer)', kind: 'path' },
    { key: 'tokenizer', flag: '--tokenizer <dir>', description: 'tokenizer directory; defaults to the model directory', kind: 'path' },
    { key: 'train', flag: '--train <file>', description: trainDescription, kind: 'path', required: true },
    { key: 'eval', flag: '--eval <file>', description: 'held-out data in the same format, evaluated at the end (and every --eval-every steps)', kind: 'path' },
    { key: 'output', flag: '--output <dir>', description: outputDescription, kind: 'path', required: true },
  ];
}

/** LoRA: with --lora-r the base is frozen and an adapter is trained and saved (PEFT format) instead of the full model. */
export const LORA_OPTIONS: readonly OptionSpec[] = [
  { key: 'loraR', flag: '--lora-r <r>', description: 'train a LoRA adapter of this rank instead of every weight (unset: full fine-tuning)', kind: 'integer', min: 1 },
  { key: 'loraAlpha', flag: '--lora-alpha <alpha>', description: 'LoRA alpha; the update is scaled by alpha / r', kind: 'number', defaultValue: 16, greaterThan: 0 },
  { key: 'loraDropout', flag: '--lora-dropout <p>', description: "dropout on the adapter's input while training", kind: 'number', defaultValue: 0, min: 0, max: 0.99 },
  { key: 'loraTargets', flag: '--lora-targets <names>', description: 'comma-separated module names (e.g. q_proj,v_proj or c_attn) or all-linear', kind: 'string', defaultValue: 'all-linear' },
];

/** Every trainer subcommand: what to do with an --output that holds another run. */
export const OVERWRITE_OPTION: OptionSpec = {
  key: 'overwrite',
  flag: '--overwrite',
  description: 'replace the run already in --output (its checkpoints and metrics log) instead of refusing to start',
  kind: 'boolean',
  defaultValue: false,
};

/** Core's shared Trainer loop options (TrainerOptions), with the library's defaults. */
export const LOOP_OPTIONS: readonly OptionSpec[] = [
  { key: 'maxSteps', flag: '--max-steps <n>', description: 'optimizer steps (unset: epochs × steps per epoch)', kind: 'integer', min: 1 },
  { key: 'epochs', flag: '--epochs <n>', description: 'passes over the training data (when --max-steps is unset)', kind: 'integer', defaultValue: 1, min: 1 },
  { key: 'batchSize', flag: '--batch-size <n>', description: 'examples per micro-batch per process', kind: 'integer', defaultValue: 8, min: 1 },
  { key: 'gradientAccumulationSteps', flag: '--gradient-accumulation-steps <n>', description: 'micro-batches per optimizer step', kind: 'integer', defaultValue: 1, min: 1 },
  { key: 'learningRate', flag: '--learning-rate <lr>', description: 'AdamW peak learning rate', kind: 'number', defaultValue: 5e-5, min: 0 },
  { key: 'lrScheduler', flag: '--lr-scheduler <type>', description: 'learning-rate schedule', kind: 'string', defaultValue: 'linear', choices: ['constant', 'linear', 'cosine'] },
  { key: 'warmupSteps', flag: '--warmup-steps <n>', description: 'linear warm-up steps', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'weightDecay', flag: '--weight-decay <w>', description: 'AdamW decoupled weight decay', kind: 'number', defaultValue: 0, min: 0 },
  { key: 'maxGradNorm', flag: '--max-grad-norm <n>', description: 'clip the global gradient norm (0: no clipping)', kind: 'number', defaultValue: 1, min: 0 },
  { key: 'seed', flag: '--seed <n>', description: 'shuffling and initialisation seed', kind: 'integer', defaultValue: 42, min: 0 },
  { key: 'evalEvery', flag: '--eval-every <n>', description: 'evaluate every n steps (0: only at the end)', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'saveEvery', flag: '--save-every <n>', description: 'checkpoint (weights, optimizer, data order) every n steps under --output (0: never)', kind: 'integer', defaultValue: 0, min: 0 },
  { key: 'saveTotalLimit', flag: '--save-total-limit <n>', description: 'checkpoints kept', kind: 'integer', defaultValue: 2, min: 1 },
  { key: 'resumeFrom', flag: '--resume-from <dir>', description: 'resume from a checkpoint directory, or "latest" under --output (an error when there is none)', kind: 'path' },
  OVERWRITE_OPTION,
  { key: 'progress', flag: '--progress <when>', description: 'progress on stderr: a bar on a terminal, else a plain line every 10 s (auto and true), or none (false)', kind: 'string', defaultValue: 'auto', choices: ['auto', 'true', 'false'] },
];

/** Every trainer subcommand: checkpoint the trained model's blocks (never a frozen reference's). */
export const GRADIENT_CHECKPOINTING_OPTION: OptionSpec = {
  key: 'gradientCheckpointing',
  flag: '--gradient-checkpointing',
  description: "recompute each block's activations in the backward pass instead of holding them (less memory, one more forward)",
  kind: 'boolean',
  defaultValue: false,
};

export const NPROC_OPTION: OptionSpec = {
  key: 'nprocPerNode',
  flag: '--nproc-per-node <n>',
  description: 'data-parallel processes to launch on this machine (via @rlhfjs/dist); each rank reads the same file and takes its share',
  kind: 'integer',
  defaultValue: 1,
  min: 1,
};
