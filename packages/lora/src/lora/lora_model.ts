// Model-level LoRA: wrap the targeted linear modules of a CausalLM in LoraLinear layers, freeze everything else,
// switch, merge, disable and remove adapters. Semantics follow PEFT's LoraModel (peft/tuners/lora/model.py).
import * as tf from '@tensorflow/tfjs';
import { ConfigError, type CausalLM, type LinearLayer } from '@rlhfjs/core';
import { resolveLoraConfig, type LoraConfig, type LoraOptions } from './lora_config';
import { LoraLinear } from './lora_linear';
import { matchTargetModules } from './target_modules';

/** What applyLora/addAdapter hand back. */
export interface LoraAdapterHandle {
  readonly adapterName: string;
  /** The adapted module names, in model order. */
  readonly modules: readonly string[];
  /**
   * The adapter's variables by PEFT file name (`base_model.model.<module>.lora_A.weight`). In memory A is
   * [in, r] and B is [r, out] (the transposes of the file layout).
   */
  parameters(): Map<string, tf.Variable>;
}

/** Weights to start an adapter from, per module: A [in, r] and B [r, out] row-major (our in-memory layout). */
export type InitialAdapterWeights = ReadonlyMap<string, { readonly loraA: Float32Array; readonly loraB: Float32Array }>;

/** Trainable flags of the model's own variables before LoRA froze them, restored by removeLora. */
const frozenStates = new WeakMap<CausalLM, Map<tf.Variable, boolean>>();

/** The LoRA layers of a model by module name, in model order. */
export function loraLayers(model: CausalLM): Map<string, LoraLinear> {
  const layers = new Map<string, LoraLinear>();
  for (const name of model.linearNames()) {
    const layer = model.linear(name);
    if (layer instanceof LoraLinear) layers.set(name, layer);
  }
  return layers;
}

/** Names of every adapter on the model, in the order they were added. */
export function adapterNames(model: CausalLM): string[] {
  const names = new Set<string>();
  for (const layer of loraLayers(model).values()) for (const name of layer.adapterNames()) names.add(name);
  return [...names];
}

/** The adapter forward applies, or null when the model has none. */
export function activeAdapter(model: CausalLM): string | null {
  for (const layer of loraLayers(model).values()) return layer.activeAdapter;
  return null;
}

/** The resolved config of an adapter. */
export function adapterConfig(model: CausalLM, adapterName: string): LoraConfig {
  for (const layer of loraLayers(model).values()) {
    const adapter = layer.adapter(adapterName);
    if (adapter !== undefined) return adapter.config;
  }
  throw new ConfigError('adapterConfig', [`the model has no adapter "${adapterName}" (adapters: ${adapterNames(model).join(', ') || 'none'})`]);
}

/** The modules that carry an adapter, in model order. */
export function adapterModules(model: CausalLM, adapterName: string): string[] {
  return [...loraLayers(model)].filter(([, layer]) => layer.adapter(adapterName) !== undefined).map(([name]) => name);
}

export function adapterHandle(model: CausalLM, adapterName: string): LoraAdapterHandle {
  const modules = adapterModules(model, adapterName);
  if (modules.length === 0) throw new ConfigError('adapterHandle', [`the model has no adapter "${adapterName}"`]);
  return {
    adapterName,
    modules,
    parameters: () => {
      const parameters = new Map<string, tf.Variable>();
      const layers = loraLayers(model);
      for (const module of modules) {
        const adapter = layers.get(module)?.adapter(adapterName);
        if (adapter === undefined) continue; // deleted since
        parameters.set(`base_model.model.${module}.lora_A.weight`, adapter.loraA);
        parameters.set(`base_model.model.${module}.lora_B.weight`, adapter.loraB);
      }
      return parameters;
    },
  };
}

/**
 * Adds the first adapter to a model (PEFT `get_peft_model`): wraps every targeted linear module in a LoraLinear,
 * freezes every other parameter (`trainable = false`) and makes the adapter active and trainable. B starts at
 * zero (with the default initialisation) so the model's outputs are unchanged.
 */
export function applyLora(model: CausalLM, options: LoraOptions): LoraAdapterHandle {
  if (loraLayers(model).size > 0) {
    throw new ConfigError('applyLora', [`the model already has adapters (${adapterNames(model).join(', ')}); use addAdapter for another one`]);
  }
  const config = resolveLoraConfig(options, 'applyLora');
  const handle = injectAdapter(model, config, null, true, 'applyLora');
  setActiveAdapter(model, config.adapterName);
  return handle;
}

/**
 * Adds another named adapter (PEFT `add_adapter`). It becomes active only when the model had no active adapter;
 * otherwise switch to it with setActiveAdapter. `options.adapterName` is ignored in favour of `adapterName`.
 */
export function addAdapter(model: CausalLM, adapterName: string, options: LoraOptions): LoraAdapterHandle {
  const config = resolveLoraConfig({ ...options, adapterName }, 'addAdapter');
  const handle = injectAdapter(model, config, null, true, 'addAdapter');
  if (activeAdapter(model) === null) setActiveAdapter(model, adapterName);
  return handle;
}

/**
 * Creates an adapter from a resolved config on the modules its targets select (or on `modules` when given),
 * from `initial` weights or from the config's initialisation. Used by applyLora, addAdapter and loadAdapter.
 */
export function injectAdapter(
  model: CausalLM,
  config: LoraConfig,
  initial: { modules: readonly string[]; weights: InitialAdapterWeights } | null,
  trainable: boolean,
  where: string,
): LoraAdapterHandle {
  const name = config.adapterName;
  if (adapterNames(model).includes(name)) throw new ConfigError(where, [`the model already has an adapter named "${name}"`]);
  if (loraLayers(model).size > 0 && [...loraLayers(model).values()].some((layer) => layer.merged !== null)) {
    throw new ConfigError(where, ['an adapter is merged; unmergeAdapters first']);
  }
  const linearNames = model.linearNames();
  const modules = initial?.modules ?? matchTargetModules(linearNames, config.targetModules);
  if (modules.length === 0) {
    throw new ConfigError(where, [`targetModules ${describeTarget(config)} match no linear module of this model (modules: ${linearNames.join(', ')})`]);
  }
  freezeModel(model);
  const current = activeAdapter(model);
  const created: Array<[string, tf.Variable, tf.Variable]> = [];
  try {
    for (const [index, module] of modules.entries()) {
      const layer = model.linear(module);
      const { inFeatures, outFeatures } = layer;
      const values = initial?.weights.get(module);
      const [loraA, loraB] = values !== undefined
        ? [tf.variable(tf.tensor2d(values.loraA, [inFeatures, config.r])), tf.variable(tf.tensor2d(values.loraB, [config.r, outFeatures]))]
        : initialWeights(config, inFeatures, outFeatures, config.seed * 100_003 + 2 * index);
      created.push([module, loraA, loraB]);
    }
  } catch (error) {
    for (const [, a, b] of created) {
      a.dispose();
      b.dispose();
    }
    throw error;
  }
  for (const [index, [module, loraA, loraB]] of created.entries()) {
    const layer = model.linear(module);
    const lora = layer instanceof LoraLinear ? layer : wrap(model, module, layer, config.seed * 100_003 + 2 * index + 1, current);
    lora.addAdapter(name, config, loraA, loraB, trainable);
  }
  return adapterHandle(model, name);
}

function wrap(model: CausalLM, module: string, base: LinearLayer, dropoutSeed: number, active: string | null): LoraLinear {
  const lora = new LoraLinear(base, dropoutSeed);
  lora.training = [...loraLayers(model).values()][0]?.training ?? false;
  lora.setActiveAdapter(active);
  model.setLinear(module, lora);
  return lora;
}

function describeTarget(config: LoraConfig): string {
  const target = config.targetModules;
  return target instanceof RegExp ? String(target) : JSON.stringify(target);
}

/** A [in, r] and B [r, out] as PEFT initialises them (see LoraInitialization). */
function initialWeights(config: LoraConfig, inFeatures: number, outFeatures: number, seed: number): [tf.Variable, tf.Variable] {
  const { r } = config;
  return tf.tidy(() => {
    // kaiming_uniform_(a=√5) on nn.Linear's [out, in] weight: gain √(2/(1+5)), bound = gain·√(3/fan_in) = 1/√fan_in.
    const boundA = 1 / Math.sqrt(inFeatures);
    let a: tf.Tensor;
    let b: tf.Tensor;
    switch (config.initialization) {
      case 'kaiming':
        a = tf.randomUniform([inFeatures, r], -boundA, boundA, 'float32', seed);
        b = tf.zeros([r, outFeatures]);
        break;
      case 'gaussian':
        a = tf.randomNormal([inFeatures, r], 0, 1 / r, 'float32', seed);
        b = tf.zeros([r, outFeatures]);
        break;
      case 'random': {
        const boundB = 1 / Math.sqrt(r);
        a = tf.randomUniform([inFeatures, r], -boundA, boundA, 'float32', seed);
        b = tf.randomUniform([r, outFeatures], -boundB, boundB, 'float32', seed + 1);
        break;
      }
      default: {
        const unreachable: never = config.initialization;
        throw new ConfigError('applyLora', [`unknown initialization ${String(unreachable)}`]);
      }
    }
    return [tf.variable(a), tf.variable(b)];
  });
}

/** Freezes every variable of the model the first time an adapter is added, remembering the previous flags. */
function freezeModel(model: CausalLM): void {
  if (frozenStates.has(model)) return;
  const states = new Map<tf.Variable, boolean>();
  for (const variable of model.namedParameters().values()) {
    states.set(variable, variable.trainable);
    variable.trainable = false;
  }
  frozenStates.set(model, states);
}

/** Makes `adapterName` the adapter forward applies and the only trainable one (PEFT `set_adapter`). */
export function setActiveAdapter(model: CausalLM, adapterName: string): void {
  const layers = loraLayers(model);
  if (!adapterNames(model).includes(adapterName)) {
    throw new ConfigError('setActiveAdapter', [`the model has no adapter "${adapterName}" (adapters: ${adapterNames(model).join(', ') || 'none'})`]);
  }
  const merged = [...layers.values()].find((layer) => layer.merged !== null && layer.merged !== adapterName);
  if (merged !== undefined) throw new ConfigError('setActiveAdapter', [`adapter "${merged.merged}" is merged; unmergeAdapters first`]);
  for (const layer of layers.values()) layer.setActiveAdapter(adapterName);
}

/** Removes an adapter and disposes its weights; layers left without adapters get their base layer back. */
export function deleteAdapter(model: CausalLM, adapterName: string): void {
  const layers = loraLayers(model);
  if (!adapterNames(model).includes(adapterName)) throw new ConfigError('deleteAdapter', [`the model has no adapter "${adapterName}"`]);
  if ([...layers.values()].some((layer) => layer.merged === adapterName)) {
    throw new ConfigError('deleteAdapter', [`adapter "${adapterName}" is merged; unmergeAdapters first`]);
  }
  const wasActive = activeAdapter(model) === adapterName;
  for (const [module, layer] of layers) {
    layer.deleteAdapter(adapterName);
    if (layer.adapterNames().length === 0) model.setLinear(module, layer.unwrap());
  }
  const remaining = adapterNames(model);
  if (remaining.length === 0) restoreTrainable(model);
  else if (wasActive) setActiveAdapter(model, remaining[0] as string); // PEFT picks a remaining adapter too
}

/** Turns adapter dropout on (training) or off (evaluation). */
export function setLoraTraining(model: CausalLM, training: boolean): void {
  for (const layer of loraLayers(model).values()) layer.training = training;
}

/** Folds the active adapter into the base weights (W += scaling · A @ B); forward then skips the adapter path. */
export function mergeAdapters(model: CausalLM): void {
  const name = activeAdapter(model);
  if (name === null) throw new ConfigError('mergeAdapters', ['the model has no active adapter']);
  const layers = [...loraLayers(model)].filter(([, layer]) => layer.adapter(name) !== undefined);
  // Check every layer first so that a refusal leaves no layer half merged.
  const refused = layers.filter(([, layer]) => !layer.canMerge());
  if (refused.length > 0) {
    const kinds = [...new Set(refused.map(([, layer]) => layer.base.kind))].map((kind) => `"${kind}"`).join(', ');
    throw new ConfigError('mergeAdapters', [
      `cannot merge into a base layer of kind ${kinds} (modules ${refused.map(([module]) => module).join(', ')}); keep the adapter unmerged`,
    ]);
  }
  for (const [, layer] of layers) layer.merge(name);
}

/** Subtracts the merged adapter's delta from the base weights again. */
export function unmergeAdapters(model: CausalLM): void {
  for (const layer of loraLayers(model).values()) layer.unmerge();
}

/**
 * Runs `fn` (sync or async) with every LoRA layer passing straight through to its base layer, restoring the
 * adapters afterwards, also when `fn` throws. No weight is copied or changed: this is how a reference policy
 * shares the policy's weights (DESIGN.md, ReferencePolicy). While an async `fn` runs, every other forward of this
 * model is unadapted too.
 */
export function withAdaptersDisabled<T>(model: CausalLM, fn: () => T): T {
  const layers = [...loraLayers(model).values()];
  for (const layer of layers) layer.pushDisabled();
  const restore = () => {
    for (const layer of layers) layer.popDisabled();
  };
  let result: T;
  try {
    result = fn();
  } catch (error) {
    restore();
    throw error;
  }
  if (isPromiseLike(result)) {
    return (async () => {
      try {
        return await result;
      } finally {
        restore();
      }
    })() as T;
  }
  restore();
  return result;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export interface RemoveLoraOptions {
  /** Merge the active adapter into the base weights before removing the adapters (PEFT `merge_and_unload`). Default false (`unload`). */
  merge?: boolean;
}

/** Puts the plain base layers back, disposes every adapter and restores the parameters' trainable flags. */
export function removeLora(model: CausalLM, options: RemoveLoraOptions = {}): void {
  const layers = loraLayers(model);
  if (options.merge === true && activeAdapter(model) !== null) mergeAdapters(model);
  else unmergeAdapters(model);
  for (const [module, layer] of layers) model.setLinear(module, layer.unwrap());
  restoreTrainable(model);
}

function restoreTrainable(model: CausalLM): void {
  const states = frozenStates.get(model);
  if (states === undefined) return;
  for (const [variable, trainable] of states) if (!variable.isDisposed) variable.trainable = trainable;
  frozenStates.delete(model);
}
