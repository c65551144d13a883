import * as os from 'os';
import type { ModelConfig } from './model_config';

/** The sizes that decide how many parameters a model has (a subset of `ModelConfig`, known before allocation). */
export type ModelSizeInputs = Pick<
  ModelConfig,
  | 'family'
  | 'vocabSize'
  | 'hiddenSize'
  | 'numLayers'
  | 'numHeads'
  | 'numKeyValueHeads'
  | 'headDim'
  | 'intermediateSize'
  | 'maxPositions'
  | 'tieWordEmbeddings'
  | 'attentionBias'
  | 'outputProjectionBias'
  | 'mlpBias'
  | 'queryKeyNorm'
>;

export interface ModelSizeEstimate {
  readonly parameterCount: number;
  /** Bytes of float32 weights (what tfjs holds in memory, whatever the checkpoint's dtype). */
  readonly weightBytes: number;
  /** Elements of the largest single tensor and the config keys that size it. */
  readonly largestTensor: { readonly elements: number; readonly keys: string };
  /** The term that dominates the count, by config key, for error messages. */
  readonly dominantKey: string;
}

/**
 * Parameter count from the config alone, by arithmetic (no per-layer loop, so `n_layer: 1e9` costs nothing).
 * Matches `parameterSpecs` exactly (tested).
 */
export function estimateModelSize(config: ModelSizeInputs): ModelSizeEstimate {
  const d = config.hiddenSize;
  const vocabulary = config.vocabSize * d;
  const head = config.tieWordEmbeddings ? 0 : vocabulary;
  let perLayer: number;
  let other: number;
  let largest: { elements: number; keys: string };
  if (config.family === 'gpt2') {
    const inner = config.intermediateSize;
    perLayer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * inner + inner) + (inner * d + d);
    other = vocabulary + config.maxPositions * d + 2 * d + head;
    largest = { elements: Math.max(vocabulary, config.maxPositions * d, d * inner, 3 * d * d), keys: 'vocab_size × n_embd' };
  } else {
    const attentionOut = config.numHeads * config.headDim;
    const keyValueOut = config.numKeyValueHeads * config.headDim;
    const inner = config.intermediateSize;
    perLayer =
      2 * d +
      d * attentionOut +
      2 * d * keyValueOut +
      attentionOut * d +
      3 * d * inner +
      (config.attentionBias ? attentionOut + 2 * keyValueOut : 0) +
      (config.outputProjectionBias ? d : 0) +
      (config.mlpBias ? 2 * inner + d : 0) +
      (config.queryKeyNorm ? 2 * config.headDim : 0);
    other = vocabulary + d + head;
    largest = { elements: Math.max(vocabulary, d * inner, d * attentionOut), keys: 'vocab_size × hidden_size' };
    if (d * inner > vocabulary) largest.keys = 'hidden_size × intermediate_size';
    if (d * attentionOut > Math.max(vocabulary, d * inner)) largest.keys = 'hidden_size × num_attention_heads × head_dim';
  }
  const layers = config.numLayers * perLayer;
  const parameterCount = layers + other;
  const layerKey = config.family === 'gpt2' ? 'n_layer' : 'num_hidden_layers';
  const vocabularyKey = 'vocab_size';
  return {
    parameterCount,
    weightBytes: parameterCount * 4,
    largestTensor: largest,
    dominantKey: layers >= other ? layerKey : vocabularyKey,
  };
}

/**
 * Most layers a model may have. Published models have at most a few hundred; each layer costs a dozen or more tfjs
 * variables of bookkeeping, so `n_layer: 1e6` of tiny layers would build ten million of them for minutes even
 * though its weights fit in memory.
 */
export const MAX_LAYERS = 1024;

/** Most elements one tensor may hold: tfjs backs tensors with typed arrays indexed by 32-bit integers. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

function gigabytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toPrecision(3)} GiB`;
}

/**
 * Problems (empty when it fits) with allocating a model of this size: float32 weights larger than this machine's
 * memory, or a tensor too large for one typed array. Checked before anything is allocated.
 */
export function modelSizeProblems(config: ModelSizeInputs, memoryBytes: number = os.totalmem()): string[] {
  const estimate = estimateModelSize(config);
  const problems: string[] = [];
  if (config.numLayers > MAX_LAYERS) {
    const layerKey = config.family === 'gpt2' ? 'n_layer' : 'num_hidden_layers';
    problems.push(`${layerKey}: ${config.numLayers} layers is more than the ${MAX_LAYERS} this library supports`);
  }
  if (!Number.isFinite(estimate.weightBytes) || estimate.weightBytes > memoryBytes) {
    problems.push(
      `${estimate.dominantKey}: the model would have ${estimate.parameterCount.toExponential(3)} parameters, ` +
        `${gigabytes(estimate.weightBytes)} of float32 weights, more than this machine's ${gigabytes(memoryBytes)} of memory`,
    );
  }
  if (estimate.largestTensor.elements > MAX_TENSOR_ELEMENTS) {
    problems.push(
      `${estimate.largestTensor.keys}: one tensor would hold ${estimate.largestTensor.elements.toExponential(3)} elements, ` +
        `more than the ${MAX_TENSOR_ELEMENTS} a tensor can hold`,
    );
  }
  return problems;
}
