import { ConfigError, type CausalLM } from '@rlhfjs/core';
import { quantizeModel, type FourBitQuantType } from '@rlhfjs/lora';
import { stringOption, type OptionSpec, type OptionValues } from '../option_spec';

/** `--quantize nf4|fp4`: QLoRA, a LoRA adapter trained over a frozen base whose linear layers are stored in 4 bits. */
export const QUANTIZE_OPTION: OptionSpec = {
  key: 'quantize',
  flag: '--quantize <type>',
  description: "QLoRA: store the frozen base's linear layers in 4 bits (nf4 or fp4, blocks of 64, lm_head kept in float32) under the LoRA adapter; needs --lora-r",
  kind: 'string',
  choices: ['nf4', 'fp4'],
};

/** Checks `--quantize` against the other options before anything is loaded. */
export function checkQuantizeOption(command: string, options: OptionValues): void {
  if (stringOption(options, 'quantize') !== undefined && typeof options['loraR'] !== 'number') {
    throw new ConfigError(`rlhfjs ${command}`, ['--quantize needs --lora-r: QLoRA trains a LoRA adapter over the frozen 4-bit base (a 4-bit model cannot be fine-tuned as a whole)']);
  }
}

/**
 * Quantizes the base model in place when `--quantize` is set (call before the adapter is applied, as QLoRA does);
 * returns the 4-bit type, or null.
 */
export function maybeQuantize(model: CausalLM, options: OptionValues): FourBitQuantType | null {
  const quantType = stringOption(options, 'quantize') as FourBitQuantType | undefined;
  if (quantType === undefined) return null;
  quantizeModel(model, { quantType });
  return quantType;
}
