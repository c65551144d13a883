import { saveCausalLM, type CausalLM, type Tokenizer } from '@rlhfjs/core';
import { saveAdapter } from '@rlhfjs/lora';
import { saveInto } from './train_run';

/**
 * Writes what was trained into `output`, beside the checkpoints and metrics log: the LoRA adapter in PEFT format
 * (adapter_config.json + adapter_model.safetensors) when `lora`, else the whole model in HF format; the tokenizer
 * files in both cases. Returns what was written.
 */
export async function savePolicy(model: CausalLM, tokenizer: Tokenizer, output: string, lora: boolean): Promise<'adapter' | 'model'> {
  await saveInto(output, async (directory) => {
    if (lora) await saveAdapter(model, directory);
    else await saveCausalLM(model, directory);
    await tokenizer.save(directory);
  });
  return lora ? 'adapter' : 'model';
}
