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
