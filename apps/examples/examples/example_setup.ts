// Shared setup of the example scripts: command-line arguments, a tiny offline model, the committed task data.
import { promises as fs, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCausalLM, loadDataset, loadTokenizer, saveCausalLM, type DatasetRecord } from '@rlhfjs/core';

const APP_DIR = path.join(__dirname, '..');
const TOKENIZER_DIR = path.join(APP_DIR, 'assets', 'tokenizer');

export interface ExampleArguments {
  /** A Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json), or null: make a tiny one. */
  readonly modelDir: string | null;
  /** Training steps / iterations (`--steps N`, default per script). */
  readonly steps: number;
  /** Where results go (`--output DIR`, default a fresh temporary directory). */
  readonly outputDir: string | null;
}

/** `[modelDir] [--steps N] [--output DIR]`. */
export function parseArguments(defaultSteps: number, argv: readonly string[] = process.argv.slice(2)): ExampleArguments {
  let modelDir: string | null = null;
  let steps = defaultSteps;
  let outputDir: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i] as string;
    if (argument === '--steps') steps = Number(argv[++i]);
    else if (argument === '--output') outputDir = argv[++i] ?? null;
    else if (argument.startsWith('--')) throw new Error(`unknown option ${argument}; usage: [modelDir] [--steps N] [--output DIR]`);
    else modelDir = argument;
  }
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${steps}`);
  return { modelDir, steps, outputDir };
}

/** The output directory, created if needed. */
export async function outputDirectory(args: ExampleArguments, name: string): Promise<string> {
  const directory = args.outputDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), `rlhfjs-${name}-`)));
  await fs.mkdir(directory, { recursive: true });
  return directory;
}

/**
 * The model directory to start from: the one given, or a randomly initialised tiny Llama (2 layers, d_model 64,
 * grouped-query attention) saved in HF format with the task tokenizer beside it, so a script runs offline in seconds.
 */
export async function modelDirectory(args: ExampleArguments): Promise<string> {
  if (args.modelDir !== null) return args.modelDir;
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-tiny-llama-'));
  process.once('exit', () => rmSync(directory, { recursive: true, force: true })); // a throwaway: remove it at exit
  const tokenizer = await loadTokenizer(TOKENIZER_DIR);
  const model = createCausalLM(
    {
      modelType: 'llama', vocabSize: tokenizer.vocabSize, hiddenSize: 64, numLayers: 2, numHeads: 4, numKeyValueHeads: 2,
      intermediateSize: 128, maxPositions: 64, tieWordEmbeddings: false,
      bosTokenId: tokenizer.bosTokenId, eosTokenId: tokenizer.eosTokenId, padTokenId: tokenizer.padTokenId,
    },
    { seed: 0 },
  );
  await saveCausalLM(model, directory);
  model.dispose();
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(TOKENIZER_DIR, file), path.join(directory, file));
  return directory;
}

/** The first `limit` records of a committed task data file (`sft_train`, `preference_heldout`, `prompts_train`, …). */
export async function taskData<T extends DatasetRecord>(name: string, limit = Infinity): Promise<T[]> {
  const dataset = await loadDataset(path.join(APP_DIR, 'data', `${name}.jsonl`));
  return dataset.records.slice(0, limit) as T[];
}
