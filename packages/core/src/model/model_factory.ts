import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import { replaceDirectoryAtomic } from '../io/atomic_write';
import type { TensorEntry } from '../io/safetensors_reader';
import { readCheckpointTensors } from '../io/sharded_checkpoint';
import { writeSafetensors, type FloatStorageDtype } from '../io/safetensors_writer';
import { createRng } from '../data/rng';
import { normalSample } from '../data/normal_sample';
import { CausalLM } from './causal_lm';
import { Linear, type LinearLayer } from './linear';
import { parseHfConfig, resolveModelConfig, type ModelConfig, type ModelConfigOptions } from './model_config';
import { parameterSpecs, type LinearSpec, type ParameterSpec } from './parameter_specs';

/** Values for each parameter, in HF checkpoint layout, keyed by HF tensor name. */
type ValueSource = (name: string, hfShape: readonly number[]) => Float32Array;

function hfWeightShape(spec: LinearSpec): number[] {
  return spec.layout === 'linear' ? [spec.outFeatures, spec.inFeatures] : [spec.inFeatures, spec.outFeatures];
}

/** Rows × columns transpose of a row-major matrix. */
function transposeMatrix(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) out[c * rows + r] = values[r * columns + c] as number;
  }
  return out;
}

function buildModel(config: ModelConfig, specs: readonly ParameterSpec[], source: ValueSource): CausalLM {
  const linears = new Map<string, LinearLayer>();
  const tensors = new Map<string, tf.Variable>();
  try {
    for (const spec of specs) {
      if (spec.kind === 'tensor') {
        tensors.set(spec.name, tf.tidy(() => tf.variable(tf.tensor(source(spec.name, spec.shape), [...spec.shape]))));
        continue;
      }
      const hfShape = hfWeightShape(spec);
      const raw = source(`${spec.module}.weight`, hfShape);
      const inOut = spec.layout === 'linear' ? transposeMatrix(raw, spec.outFeatures, spec.inFeatures) : raw; // [in, out]
      const weight = tf.tidy(() => tf.variable(tf.tensor2d(inOut, [spec.inFeatures, spec.outFeatures])));
      const bias = spec.bias ? tf.tidy(() => tf.variable(tf.tensor1d(source(`${spec.module}.bias`, [spec.outFeatures])))) : null;
      linears.set(spec.module, new Linear(weight, bias, spec.layout));
    }
  } catch (error) {
    for (const layer of linears.values()) layer.dispose();
    for (const variable of tensors.values()) variable.dispose();
    throw error;
  }
  return new CausalLM(config, linears, tensors);
}

export interface CreateCausalLMOptions {
  /** Seed of the weight initialisation (default 0). */
  seed?: number;
}

/** A randomly initialised model (HF's init: N(0, 0.02), GPT-2's scaled residual projections, zero biases, unit norms). */
export function createCausalLM(options: ModelConfigOptions, createOptions: CreateCausalLMOptions = {}): CausalLM {
  const config = resolveModelConfig(options);
  const specs = parameterSpecs(config);
  const rng = createRng(createOptions.seed ?? 0);
  const initial = new Map<string, Float32Array>();
  for (const spec of specs) {
    type Initial = [name: string, shape: readonly number[], init: 'normal' | 'ones' | 'zeros', std: number];
    const shapes: Initial[] = [];
    if (spec.kind === 'tensor') shapes.push([spec.name, spec.shape, spec.init, spec.initStd]);
    else {
      shapes.push([`${spec.module}.weight`, hfWeightShape(spec), 'normal', spec.initStd]);
      if (spec.bias) shapes.push([`${spec.module}.bias`, [spec.outFeatures], 'zeros', 0]);
    }
    for (const [name, shape, init, std] of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = init === 'normal' ? normalSample(size, std, rng) : new Float32Array(size).fill(init === 'ones' ? 1 : 0);
      initial.set(name, values);
    }
  }
  return buildModel(config, specs, (name) => initial.get(name) as Float32Array);
}

/** Names a GPT-2 checkpoint may use for one of our (prefixed) names: hub files drop `transformer.`. */
function candidateNames(config: ModelConfig, name: string): string[] {
  if (config.family === 'gpt2' && name.startsWith('transformer.')) return [name, name.slice('transformer.'.length)];
  return [name];
}

/** Buffers some checkpoints carry that are not parameters. */
const IGNORED_KEYS = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /rotary_emb\.inv_freq$/];

export interface LoadCausalLMResult {
  model: CausalLM;
  /** Checkpoint tensors that no parameter used (HF would warn about them). */
  unexpectedKeys: string[];
}

/** Loads an HF model directory (`config.json` + `model.safetensors` or shards) for gpt2, llama, qwen2, qwen3, mistral. */
export async function loadCausalLM(directory: string): Promise<CausalLM> {
  return (await loadCausalLMWithReport(directory)).model;
}

export async function loadCausalLMWithReport(directory: string): Promise<LoadCausalLMResult> {
  const configPath = path.join(directory, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(configPath, 'utf8'));
  } catch (error) {
    throw new CheckpointError(`loadCausalLM: cannot read ${configPath}: ${(error as Error).message}`, { cause: error });
  }
  const config = parseHfConfig(json, configPath);
  const checkpoint = await readCheckpointTensors(directory);
  const specs = parameterSpecs(config);
  const used = new Set<string>();
  const missing: string[] = [];
  const source: ValueSource = (name, hfShape) => {
    const found = candidateNames(config, name).find((candidate) => checkpoint.has(candidate));
    if (found === undefined) {
      missing.push(name);
      throw new CheckpointError(`loadCausalLM: ${directory} has no tensor "${name}" (model_type ${config.modelType})`, { code: 'CHECKPOINT_MISSING_KEY' });
    }
    used.add(found);
    const entry = checkpoint.get(found) as TensorEntry;
    if (entry.shape.length !== hfShape.length || entry.shape.some((size, i) => size !== hfShape[i])) {
      throw new CheckpointError(`loadCausalLM: tensor "${found}" in ${directory} is [${entry.shape}], config.json implies [${hfShape}]`, { code: 'CHECKPOINT_SHAPE' });
    }
    if (!(entry.data instanceof Float32Array)) {
      throw new CheckpointError(`loadCausalLM: tensor "${found}" in ${directory} has dtype ${entry.dtype}; expected a float tensor`);
    }
    return entry.data;
  };
  const model = buildModel(config, specs, source);
  if (config.tieWordEmbeddings) {
    for (const name of ['lm_head.weight']) if (checkpoint.has(name)) used.add(name); // a tied copy, as some writers keep it
  }
  const unexpectedKeys = [...checkpoint.keys()].filter((key) => !used.has(key) && !IGNORED_KEYS.some((pattern) => pattern.test(key)));
  return { model, unexpectedKeys };
}

export interface SaveCausalLMOptions {
  /** Storage dtype of the weights (default 'F32'). */
  dtype?: FloatStorageDtype;
}

/** HF-layout tensors of a model (linear weights back to [out, in], GPT-2 Conv1D kept [in, out]). */
export function modelStateDict(model: CausalLM): Map<string, { data: Float32Array; shape: number[] }> {
  const state = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const spec of parameterSpecs(model.config)) {
    if (spec.kind === 'tensor') {
      state.set(spec.name, { data: model.tensor(spec.name).dataSync() as Float32Array, shape: [...spec.shape] });
      continue;
    }
    const layer = model.linear(spec.module);
    const parameters = layer.parameters();
    const weight = parameters.get('weight');
    if (layer.kind !== 'linear' || weight === undefined) {
      throw new CheckpointError(
        `saveCausalLM: module "${spec.module}" is a ${layer.kind} layer; merge or remove adapters (or dequantize) before saving a full model`,
      );
    }
    const inOut = weight.dataSync() as Float32Array; // [in, out]
    state.set(`${spec.module}.weight`, {
      data: spec.layout === 'linear' ? transposeMatrix(inOut, spec.inFeatures, spec.outFeatures) : inOut,
      shape: hfWeightShape(spec),
    });
    const bias = parameters.get('bias');
    if (bias !== undefined) state.set(`${spec.module}.bias`, { data: bias.dataSync() as Float32Array, shape: [spec.outFeatures] });
  }
  return state;
}

/**
 * The config.json to write: the loaded one with the fields we model brought up to date, in transformers 5's form:
 * rotary settings only under `rope_parameters`, and `dtype` naming the dtype the weights are actually written in
 * (`torch_dtype`, the older key, is updated too when the loaded config had it).
 */
export function hfConfigJson(config: ModelConfig, dtype: FloatStorageDtype = 'F32'): Record<string, unknown> {
  const written = dtype === 'BF16' ? 'bfloat16' : 'float32';
  const { rope_theta: _theta, rope_scaling: _scaling, ...rest } = config.hfConfig;
  const json: Record<string, unknown> = config.rope === null ? { ...config.hfConfig } : { ...rest, rope_parameters: { ...config.rope.parameters } };
  json['tie_word_embeddings'] = config.tieWordEmbeddings;
  json['dtype'] = written;
  if ('torch_dtype' in json) json['torch_dtype'] = written;
  return json;
}

/**
 * Writes `config.json` + `model.safetensors` with HF names so that `transformers` loads the result with no missing
 * or unexpected keys. The directory is replaced atomically: an interrupted save leaves the previous one intact.
 */
export async function saveCausalLM(model: CausalLM, directory: string, options: SaveCausalLMOptions = {}): Promise<void> {
  const dtype = options.dtype ?? 'F32';
  const state = modelStateDict(model);
  await replaceDirectoryAtomic(directory, async (temporary) => {
    await fs.writeFile(path.join(temporary, 'config.json'), `${JSON.stringify(hfConfigJson(model.config, dtype), null, 2)}\n`);
    await writeSafetensors(path.join(temporary, 'model.safetensors'), state, { dtype, metadata: { format: 'pt' } });
  });
}
