// PEFT's adapter directory: adapter_config.json + adapter_model.safetensors with tensors named
// `base_model.model.<module>.lora_A.weight` [r, in] and `...lora_B.weight` [out, r] (adapter name stripped, as
// PEFT's get_peft_model_state_dict does). In memory A is [in, r] and B [r, out]: both are transposed here.
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError, ConfigError, readSafetensors, writeFileAtomic, writeSafetensors, type CausalLM, type TensorEntry } from '@rlhfjs/core';
import { resolveLoraConfig } from '../lora/lora_config';
import { activeAdapter, adapterConfig, adapterModules, injectAdapter, loraLayers, setActiveAdapter, type InitialAdapterWeights, type LoraAdapterHandle } from '../lora/lora_model';
import { matchTargetModules, targetModulesForConfig } from '../lora/target_modules';
import { parsePeftConfig, peftConfigJson } from './adapter_config';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** PEFT's tensor names of one module's adapter. */
export function peftTensorNames(module: string): { loraA: string; loraB: string } {
  return { loraA: `base_model.model.${module}.lora_A.weight`, loraB: `base_model.model.${module}.lora_B.weight` };
}

export interface SaveAdapterOptions {
  /** Which adapter (default: the active one). */
  adapterName?: string;
  /** `base_model_name_or_path` in the config (default: the model config's `_name_or_path`, else null). */
  baseModelNameOrPath?: string | null;
}

/** Row-major transpose of a [rows, columns] matrix. */
function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) out[column * rows + row] = values[row * columns + column] as number;
  }
  return out;
}

/** GPT-2's linear modules are Conv1D (PEFT sets fan_in_fan_out for them); its lm_head is an nn.Linear. */
function isConv1d(model: CausalLM, module: string): boolean {
  return model.config.family === 'gpt2' && module !== 'lm_head';
}

/**
 * Writes `directory/adapter_config.json` and `directory/adapter_model.safetensors` so that PEFT's
 * `PeftModel.from_pretrained` loads them. Each file is written atomically; other files in the directory stay.
 */
export async function saveAdapter(model: CausalLM, directory: string, options: SaveAdapterOptions = {}): Promise<void> {
  const name = options.adapterName ?? activeAdapter(model);
  if (name === null) throw new ConfigError('saveAdapter', ['the model has no adapter to save']);
  const config = adapterConfig(model, name);
  const modules = adapterModules(model, name);
  const layers = loraLayers(model);
  const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const module of modules) {
    const layer = layers.get(module);
    const adapter = layer?.adapter(name);
    if (layer === undefined || adapter === undefined) continue;
    const { inFeatures, outFeatures } = layer;
    const names = peftTensorNames(module);
    tensors.set(names.loraA, { data: transpose(adapter.loraA.dataSync() as Float32Array, inFeatures, config.r), shape: [config.r, inFeatures] });
    tensors.set(names.loraB, { data: transpose(adapter.loraB.dataSync() as Float32Array, config.r, outFeatures), shape: [outFeatures, config.r] });
  }
  const hfName = model.config.hfConfig['_name_or_path'];
  const json = peftConfigJson(config, {
    targetModules: targetModulesForConfig(config.targetModules, modules),
    fanInFanOut: modules.some((module) => isConv1d(model, module)),
    baseModelNameOrPath: options.baseModelNameOrPath !== undefined ? options.baseModelNameOrPath : typeof hfName === 'string' ? hfName : null,
  });
  await fs.mkdir(directory, { recursive: true });
  await writeSafetensors(path.join(directory, ADAPTER_WEIGHTS_FILE), tensors, { metadata: { format: 'pt' } });
  await writeFileAtomic(path.join(directory, ADAPTER_CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
}

export interface LoadAdapterOptions {
  /** Name to load the adapter under (default 'default'). */
  adapterName?: string;
  /** Train the loaded weights (default false, like PEFT's `is_trainable=False`). */
  trainable?: boolean;
  /** Make it the active adapter (default true). */
  activate?: boolean;
}

/**
 * Loads a PEFT LoRA adapter directory onto `model` (wrapping the target modules, freezing the rest). Checks the
 * config, that its target modules exist here, that every expected tensor is present with the shape this model
 * implies, and that the file holds no other tensors; any mismatch is a CheckpointError naming the key.
 */
export async function loadAdapter(model: CausalLM, directory: string, options: LoadAdapterOptions = {}): Promise<LoraAdapterHandle> {
  const configFile = path.join(directory, ADAPTER_CONFIG_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(configFile, 'utf8'));
  } catch (error) {
    throw new CheckpointError(`loadAdapter: cannot read ${configFile}: ${(error as Error).message}`, { code: 'ADAPTER_CONFIG', cause: error });
  }
  const parsed = parsePeftConfig(json, configFile);
  const config = resolveLoraConfig({ ...parsed.options, adapterName: options.adapterName ?? 'default' }, 'loadAdapter');
  const modules = matchTargetModules(model.linearNames(), config.targetModules);
  if (modules.length === 0) {
    throw new CheckpointError(
      `loadAdapter: target_modules ${JSON.stringify(parsed.targetModulesJson)} in ${configFile} match no linear module of this model (modules: ${model.linearNames().join(', ')})`,
      { code: 'ADAPTER_TARGETS' },
    );
  }
  const weightsFile = path.join(directory, ADAPTER_WEIGHTS_FILE);
  const file = await readSafetensors(weightsFile);
  const expected = new Set<string>();
  const problems: string[] = [];
  const weights = new Map<string, { loraA: Float32Array; loraB: Float32Array }>();
  const take = (key: string, shape: readonly number[]): Float32Array | null => {
    expected.add(key);
    const entry: TensorEntry | undefined = file.tensors.get(key);
    if (entry === undefined) {
      problems.push(`missing tensor "${key}" (expected [${shape}])`);
      return null;
    }
    if (entry.shape.length !== shape.length || entry.shape.some((size, i) => size !== shape[i])) {
      problems.push(`tensor "${key}" is [${entry.shape}], this model and r=${config.r} imply [${shape}]`);
      return null;
    }
    if (!(entry.data instanceof Float32Array)) {
      problems.push(`tensor "${key}" has dtype ${entry.dtype}; expected a float tensor`);
      return null;
    }
    return entry.data;
  };
  for (const module of modules) {
    const layer = model.linear(module);
    const names = peftTensorNames(module);
    const loraA = take(names.loraA, [config.r, layer.inFeatures]);
    const loraB = take(names.loraB, [layer.outFeatures, config.r]);
    if (loraA !== null && loraB !== null) {
      weights.set(module, { loraA: transpose(loraA, config.r, layer.inFeatures), loraB: transpose(loraB, layer.outFeatures, config.r) });
    }
  }
  const unexpected = [...file.tensors.keys()].filter((key) => !expected.has(key));
  if (unexpected.length > 0) problems.push(`unexpected tensors (no matching target module here): ${unexpected.map((key) => `"${key}"`).join(', ')}`);
  if (problems.length > 0) {
    throw new CheckpointError(`loadAdapter: ${weightsFile} does not fit the model: ${problems.join('; ')}`, { code: 'ADAPTER_WEIGHTS' });
  }
  const initial: InitialAdapterWeights = weights;
  const handle = injectAdapter(model, config, { modules, weights: initial }, options.trainable ?? false, 'loadAdapter');
  if ((options.activate ?? true) || activeAdapter(model) === null) setActiveAdapter(model, config.adapterName);
  return handle;
}
