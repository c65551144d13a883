import { promises as fs } from 'fs';
import * as path from 'path';
import { loadCausalLM, loadTokenizer, saveCausalLM, type CausalLM } from '@rlhfjs/core';
import { loadAdapter, removeLora } from '@rlhfjs/lora';
import { stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { CONFIG_OPTION } from './shared_options';
import { summaryLine } from './train_run';

export const MERGE_ADAPTER_OPTIONS: readonly OptionSpec[] = [
  { key: 'model', flag: '--model <dir>', description: 'base HF model directory', kind: 'path', required: true },
  { key: 'adapter', flag: '--adapter <dir>', description: 'PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors)', kind: 'path', required: true },
  { key: 'output', flag: '--output <dir>', description: 'where the merged model and the tokenizer are written (replaced as a whole)', kind: 'path', required: true },
  { key: 'tokenizer', flag: '--tokenizer <dir>', description: 'tokenizer to copy (default: the adapter directory when it has tokenizer.json, else the model directory)', kind: 'path' },
  CONFIG_OPTION,
];

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** `rlhfjs merge-adapter`: PEFT's merge_and_unload — base + adapter → one plain HF model directory. */
export async function runMergeAdapter(options: OptionValues, write: (text: string) => void): Promise<void> {
  const modelDir = stringOption(options, 'model') as string;
  const adapterDir = stringOption(options, 'adapter') as string;
  const output = stringOption(options, 'output') as string;
  const tokenizerDir = stringOption(options, 'tokenizer') ?? ((await exists(path.join(adapterDir, 'tokenizer.json'))) ? adapterDir : modelDir);
  const tokenizer = await loadTokenizer(tokenizerDir);
  let model: CausalLM | null = null;
  try {
    model = await loadCausalLM(modelDir);
    const handle = await loadAdapter(model, adapterDir);
    const modules = handle.modules.length;
    removeLora(model, { merge: true });
    await saveCausalLM(model, output);
    await tokenizer.save(output);
    write(summaryLine('merge-adapter', { modules, output }));
  } finally {
    model?.dispose();
  }
}
