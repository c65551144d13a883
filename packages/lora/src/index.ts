// Public API of @rlhfjs/lora: explicit named exports only.

// LoRA
export { resolveLoraConfig, loraScaling } from './lora/lora_config';
export type { LoraOptions, LoraConfig, LoraInitialization, TargetModules } from './lora/lora_config';
export { matchesTarget, matchTargetModules, OUTPUT_HEAD_MODULE } from './lora/target_modules';
export { LoraLinear } from './lora/lora_linear';
export type { LoraAdapterWeights, MergeableLinear } from './lora/lora_linear';
export {
  applyLora,
  addAdapter,
  setActiveAdapter,
  deleteAdapter,
  activeAdapter,
  adapterNames,
  adapterConfig,
  adapterModules,
  adapterHandle,
  loraLayers,
  setLoraTraining,
  mergeAdapters,
  unmergeAdapters,
  withAdaptersDisabled,
  removeLora,
} from './lora/lora_model';
export type { LoraAdapterHandle, RemoveLoraOptions } from './lora/lora_model';

// PEFT adapter files
export { saveAdapter, loadAdapter, peftTensorNames, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './peft/adapter_io';
export type { SaveAdapterOptions, LoadAdapterOptions } from './peft/adapter_io';
export { peftConfigJson, parsePeftConfig } from './peft/adapter_config';
export type { PeftLoraConfigJson, ParsedPeftConfig } from './peft/adapter_config';

// 4-bit quantization (bitsandbytes NF4/FP4 blockwise format) and QLoRA
export { quantize4bit, dequantize4bit, dequantize4bitInto, effectiveAbsmax, resolveQuantize4bitConfig, SUPPORTED_4BIT_BLOCK_SIZES, NESTED_ABSMAX_BLOCK_SIZE } from './quant/quantize_4bit';
export type { Quantize4bitOptions, Quantize4bitConfig, Quantized4bit, Quantized4bitPlain, Quantized4bitDouble } from './quant/quantize_4bit';
export { NF4_CODE, FP4_CODE, codeTableFor } from './quant/code_tables';
export type { FourBitQuantType } from './quant/code_tables';
export { Linear4bit } from './quant/linear_4bit';
export type { Linear4bitOptions } from './quant/linear_4bit';
export { quantizeModel, resolveQuantizeModelConfig } from './quantize_model';
export type { QuantizeModelOptions, QuantizeModelConfig, QuantizeModelResult } from './quantize_model';
