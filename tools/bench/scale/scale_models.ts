// The three real-size shapes of `npm run bench:scale` and the writer of their HF-format checkpoints (random init,
// our own safetensors writer and config.json, nothing downloaded).
import { promises as fs } from 'fs';
import * as path from 'path';
import { createRng, hfConfigJson, normalSample, parameterSpecs, resolveModelConfig, writeSafetensors, type ModelConfigOptions } from '@rlhfjs/core';

export interface ScaleModel {
  /** Short name used on the command line (`--models gpt2,smollm2`). */
  readonly key: string;
  /** What the table prints. */
  readonly label: string;
  readonly options: ModelConfigOptions;
  /** Linear modules LoRA targets for the "q,v" row (GPT-2 fuses q, k, v in c_attn, as PEFT targets it). */
  readonly loraTargets: readonly string[];
}

/** Published configs: openai-community/gpt2, HuggingFaceTB/SmolLM2-135M, Qwen/Qwen2.5-0.5B. */
export const SCALE_MODELS: readonly ScaleModel[] = [
  {
    key: 'gpt2',
    label: 'GPT-2 124M',
    options: { modelType: 'gpt2', vocabSize: 50257, hiddenSize: 768, numLayers: 12, numHeads: 12, maxPositions: 1024, normEpsilon: 1e-5, bosTokenId: 50256, eosTokenId: 50256 },
    loraTargets: ['c_attn'],
  },
  {
    key: 'smollm2',
    label: 'SmolLM2-135M',
    options: {
      modelType: 'llama', vocabSize: 49152, hiddenSize: 576, numLayers: 30, numHeads: 9, numKeyValueHeads: 3, intermediateSize: 1536,
      maxPositions: 8192, normEpsilon: 1e-5, ropeTheta: 100000, tieWordEmbeddings: true, bosTokenId: 0, eosTokenId: 0,
    },
    loraTargets: ['q_proj', 'v_proj'],
  },
  {
    key: 'qwen2.5-0.5b',
    label: 'Qwen2.5-0.5B',
    options: {
      modelType: 'qwen2', vocabSize: 151936, hiddenSize: 896, numLayers: 24, numHeads: 14, numKeyValueHeads: 2, intermediateSize: 4864,
      maxPositions: 32768, normEpsilon: 1e-6, ropeTheta: 1000000, tieWordEmbeddings: true, bosTokenId: 151643, eosTokenId: 151643,
    },
    loraTargets: ['q_proj', 'v_proj'],
  },
];

/**
 * Writes `<directory>/config.json` + `model.safetensors` for a model unless both are already there (the config
 * written is compared, so a changed shape rewrites). Returns the parameter count.
 */
export async function writeScaleCheckpoint(model: ScaleModel, directory: string, seed = 0): Promise<number> {
  const config = resolveModelConfig(model.options);
  const configText = `${JSON.stringify(hfConfigJson(config), null, 2)}\n`;
  const specs = parameterSpecs(config);
  let count = 0;
  const shapes: Array<[string, number[], 'normal' | 'ones' | 'zeros', number]> = [];
  for (const spec of specs) {
    if (spec.kind === 'tensor') shapes.push([spec.name, [...spec.shape], spec.init, spec.initStd]);
    else {
      // HF layout: nn.Linear [out, in]; GPT-2 Conv1D [in, out]
      shapes.push([`${spec.module}.weight`, spec.layout === 'linear' ? [spec.outFeatures, spec.inFeatures] : [spec.inFeatures, spec.outFeatures], 'normal', spec.initStd]);
      if (spec.bias) shapes.push([`${spec.module}.bias`, [spec.outFeatures], 'zeros', 0]);
    }
  }
  for (const [, shape] of shapes) count += shape.reduce((a, b) => a * b, 1);
  const weightsPath = path.join(directory, 'model.safetensors');
  const configPath = path.join(directory, 'config.json');
  const existing = await fs.readFile(configPath, 'utf8').catch(() => null);
  const weightsExist = await fs.stat(weightsPath).then(() => true, () => false);
  if (existing === configText && weightsExist) return count;
  await fs.mkdir(directory, { recursive: true });
  const rng = createRng(seed);
  const state = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [name, shape, init, std] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    state.set(name, { data: init === 'normal' ? normalSample(size, std, rng) : new Float32Array(size).fill(init === 'ones' ? 1 : 0), shape });
  }
  await writeSafetensors(weightsPath, state, { metadata: { format: 'pt' } });
  await fs.writeFile(configPath, configText);
  return count;
}
