import { saveCausalLM, type CausalLM, type Tokenizer } from '@rlhfjs/core';
import { saveAdapter } from '@rlhfjs/lora';
import { saveInto } from './train_run';

/**
 * Writes what was trained into `output`, beside the checkpoints and metrics log: the LoRA adapter in PEFT format
 * (adapter_config.json + adapter_model.safetensors) when `lora`, else the whole model in HF format; the tokenizer
 * files in both cases. Returns what was written.
 */
export async function savePolicy(model: CausalLM, tokenizer: Tokenizer, output: string, lora: boolean): Promise<'adapter' | 'model'> {
  await saveInto(output, policyWriter(model, tokenizer, lora));
  return lora ? 'adapter' : 'model';
}

/** Writes the policy's files into a folder: the adapter (PEFT) when `lora`, else the model; the tokenizer in both cases. */
export function policyWriter(model: CausalLM, tokenizer: Tokenizer, lora: boolean): (directory: string) => Promise<void> {
  return async (directory) => {
    if (lora) await saveAdapter(model, directory);
    else await saveCausalLM(model, directory);
    await tokenizer.save(directory);
  };
}
