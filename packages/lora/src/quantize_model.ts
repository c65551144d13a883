// QLoRA's first step (Dettmers et al. 2023): replace a model's frozen float32 linear layers by 4-bit ones
// (bitsandbytes format, quant/linear_4bit.ts), keeping the embeddings and the LM head in float32 as
// transformers' bitsandbytes integration does (`llm_int8_skip_modules` defaults to the output head). LoRA is
// then applied on top: a LoraLinear wraps the Linear4bit base and trains only its float32 adapters.
import { ConfigError, Linear, type CausalLM } from '@rlhfjs/core';
import { matchesTarget } from './lora/target_modules';
import { Linear4bit } from './quant/linear_4bit';
import { resolveQuantize4bitConfig, type Quantize4bitConfig } from './quant/quantize_4bit';
import type { FourBitQuantType } from './quant/code_tables';

export interface QuantizeModelOptions {
  /** 'nf4' (default, QLoRA's choice) or 'fp4'. */
  quantType?: FourBitQuantType;
  /** Values per absmax block (default 64, bitsandbytes' default). */
  blockSize?: number;
  /** Quantize the absmax values too (QLoRA's double quantization; default false). */
  doubleQuant?: boolean;
  /** Modules kept in float32: exact names or dotted suffixes, as LoRA's target lists (default ['lm_head']). */
  skipModules?: readonly string[];
  /**
   * Let each Linear4bit keep one float32 decode buffer of its weight between calls (default false: decode into a
   * fresh array per forward, so the model holds only the 4-bit weights; true trades that memory for speed).
   */
  keepDecodeBuffer?: boolean;
}

export interface QuantizeModelConfig extends Quantize4bitConfig {
  readonly skipModules: readonly string[];
  readonly keepDecodeBuffer: boolean;
}

export interface QuantizeModelResult {
  /** The modules now stored in 4 bits, in model order. */
  readonly modules: readonly string[];
  /** Bytes of their float32 weights before (biases excluded). */
  readonly float32WeightBytes: number;
  /** Bytes of their quantized weights in tensors (codes + absmax state). */
  readonly quantizedWeightBytes: number;
}

export function resolveQuantizeModelConfig(options: QuantizeModelOptions = {}): QuantizeModelConfig {
  const problems: string[] = [];
  let quantize: Quantize4bitConfig = { quantType: 'nf4', blockSize: 64, doubleQuant: false };
  try {
    quantize = resolveQuantize4bitConfig({ quantType: options.quantType, blockSize: options.blockSize, doubleQuant: options.doubleQuant });
  } catch (error) {
    if (error instanceof ConfigError) problems.push(error.message);
    else throw error;
  }
  const skipModules = options.skipModules ?? ['lm_head'];
  if (!Array.isArray(skipModules) || skipModules.some((entry) => typeof entry !== 'string' || entry.length === 0)) {
    problems.push(`skipModules must be a list of non-empty module names, got ${JSON.stringify(skipModules)}`);
  }
  const keepDecodeBuffer = options.keepDecodeBuffer ?? false;
  if (typeof keepDecodeBuffer !== 'boolean') problems.push(`keepDecodeBuffer must be a boolean, got ${JSON.stringify(keepDecodeBuffer)}`);
  if (problems.length > 0) throw new ConfigError('quantizeModel', problems);
  return Object.freeze({ ...quantize, skipModules: Object.freeze([...skipModules]), keepDecodeBuffer });
}

/**
 * Swaps every float32 `Linear` of the model (except `skipModules`) for a frozen `Linear4bit`, disposing the float32
 * weights. Quantize before applying LoRA: a LoRA-wrapped module is refused.
 */
export function quantizeModel(model: CausalLM, options: QuantizeModelOptions = {}): QuantizeModelResult {
  const config = resolveQuantizeModelConfig(options);
  const names = model.linearNames();
  const wrapped = names.filter((name) => model.linear(name).kind === 'lora');
  if (wrapped.length > 0) throw new ConfigError('quantizeModel', [`modules ${wrapped.join(', ')} carry LoRA adapters; quantize the model before applyLora`]);
  const modules: string[] = [];
  let float32WeightBytes = 0;
  let quantizedWeightBytes = 0;
  for (const name of names) {
    const layer = model.linear(name);
    if (!(layer instanceof Linear) || matchesTarget(name, config.skipModules)) continue;
    const quantized = Linear4bit.fromWeight(
      layer.weight.dataSync() as Float32Array, // [in, out]
      layer.inFeatures,
      layer.outFeatures,
      layer.bias === null ? null : (layer.bias.dataSync() as Float32Array),
      { quantType: config.quantType, blockSize: config.blockSize, doubleQuant: config.doubleQuant, keepDecodeBuffer: config.keepDecodeBuffer },
    );
    model.setLinear(name, quantized).dispose();
    modules.push(name);
    float32WeightBytes += layer.inFeatures * layer.outFeatures * 4;
    quantizedWeightBytes += quantized.bytesOfQuantizedWeights();
  }
  return { modules, float32WeightBytes, quantizedWeightBytes };
}
