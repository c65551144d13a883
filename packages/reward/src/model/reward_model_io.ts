import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CheckpointError,
  hfConfigJson,
  loadCausalLMWithReport,
  modelStateDict,
  parseHfConfig,
  readCheckpointTensors,
  replaceDirectoryAtomic,
  writeSafetensors,
  type CausalLM,
  type FloatStorageDtype,
  type ModelType,
} from '@rlhfjs/core';
import { REWARD_NORMALIZER_FILE, RewardNormalizer } from '../normalize/reward_normalizer';
import { RewardModel, SCORE_WEIGHT_NAME } from './reward_model';

/** transformers' sequence-classification class of each model type. */
export function sequenceClassificationArchitecture(modelType: ModelType): string {
  switch (modelType) {
    case 'gpt2':
      return 'GPT2ForSequenceClassification';
    case 'llama':
      return 'LlamaForSequenceClassification';
    case 'qwen2':
      return 'Qwen2ForSequenceClassification';
    case 'qwen3':
      return 'Qwen3ForSequenceClassification';
    case 'mistral':
      return 'MistralForSequenceClassification';
    default: {
      const unreachable: never = modelType;
      return unreachable;
    }
  }
}

/** config.json of a reward model as transformers writes it for `AutoModelForSequenceClassification(num_labels=1)`. */
export function rewardModelConfigJson(model: RewardModel, dtype: FloatStorageDtype = 'F32'): Record<string, unknown> {
  if (model.padTokenId === null) {
    throw new CheckpointError(
      'saveRewardModel: the reward model has no pad token id; transformers cannot score batches without one. ' +
        'Create it with RewardModel.fromCausalLM(model, {padTokenId: tokenizer.padTokenId})',
    );
  }
  return {
    ...hfConfigJson(model.config, dtype),
    architectures: [sequenceClassificationArchitecture(model.config.modelType)],
    tie_word_embeddings: model.tieWordEmbeddings,
    id2label: { '0': 'LABEL_0' },
    label2id: { LABEL_0: 0 },
    num_labels: 1,
    pad_token_id: model.padTokenId,
  };
}

/**
 * HF-layout tensors of a reward model: the backbone under its HF prefix (`transformer.` for GPT-2, `model.` for the
 * Llama family) with no `lm_head`, and `score.weight` [1, D].
 */
export function rewardModelStateDict(model: RewardModel): Map<string, { data: Float32Array; shape: number[] }> {
  const state = modelStateDict(model.backbone);
  state.delete('lm_head.weight');
  state.set(SCORE_WEIGHT_NAME, { data: Float32Array.from(model.score.dataSync()), shape: [1, model.config.hiddenSize] });
  return state;
}

export interface SaveRewardModelOptions {
  /** Storage dtype of the weights (default 'F32'). */
  dtype?: FloatStorageDtype;
}

/**
 * Writes `config.json` + `model.safetensors` in the layout of transformers' `*ForSequenceClassification`, plus
 * `reward_normalizer.json` when the model carries a normalizer. The directory is replaced atomically.
 * A model with LoRA adapters must be merged first (as for `saveCausalLM`).
 */
export async function saveRewardModel(model: RewardModel, directory: string, options: SaveRewardModelOptions = {}): Promise<void> {
  const dtype = options.dtype ?? 'F32';
  const config = rewardModelConfigJson(model, dtype);
  const state = rewardModelStateDict(model);
  await replaceDirectoryAtomic(directory, async (temporary) => {
    await fs.writeFile(path.join(temporary, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    await writeSafetensors(path.join(temporary, 'model.safetensors'), state, { dtype, metadata: { format: 'pt' } });
    if (model.normalizer !== null) await model.normalizer.save(path.join(temporary, REWARD_NORMALIZER_FILE));
  });
}

/**
 * Loads a reward model saved by `saveRewardModel` or by transformers (`*ForSequenceClassification` with one label),
 * with `reward_normalizer.json` when present. A causal-LM checkpoint (no `score.weight`) is refused with a
 * `CheckpointError` (code `REWARD_NO_SCORE_HEAD`) that says how to initialise a head instead.
 */
export async function loadRewardModel(directory: string): Promise<RewardModel> {
  const configPath = path.join(directory, 'config.json');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await fs.readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new CheckpointError(`loadRewardModel: cannot read ${configPath}: ${(error as Error).message}`, { cause: error });
  }
  const config = parseHfConfig(json, configPath);
  const names: string[] = [];
  const head = await readCheckpointTensors(directory, {
    names: (name) => {
      names.push(name);
      return name === SCORE_WEIGHT_NAME;
    },
  });
  const score = head.get(SCORE_WEIGHT_NAME);
  if (score === undefined) {
    throw new CheckpointError(
      `loadRewardModel: ${directory} has no score head ("${SCORE_WEIGHT_NAME}"); it looks like a causal LM checkpoint ` +
        `(architectures ${JSON.stringify(json['architectures'] ?? null)}). To start a reward model from it, initialise a ` +
        `fresh head: RewardModel.fromCausalLM(await loadCausalLM(${JSON.stringify(directory)}))`,
      { code: 'REWARD_NO_SCORE_HEAD' },
    );
  }
  if (score.shape.length !== 2 || score.shape[0] !== 1 || score.shape[1] !== config.hiddenSize || !(score.data instanceof Float32Array)) {
    throw new CheckpointError(
      `loadRewardModel: "${SCORE_WEIGHT_NAME}" in ${directory} is ${score.dtype} [${score.shape}]; a reward model needs a float [1, ${config.hiddenSize}] head (num_labels = 1)`,
      { code: 'CHECKPOINT_SHAPE' },
    );
  }
  const hasLmHead = names.includes('lm_head.weight');
  const backbone = !config.tieWordEmbeddings && !hasLmHead ? await loadWithoutLmHead(directory, json) : await loadBackbone(directory);
  const scoreVariable = tf.tidy(() => tf.variable(tf.tensor2d(score.data as Float32Array, [config.hiddenSize, 1]))); // [1, D] → [D, 1], same order
  const model = new RewardModel(backbone, scoreVariable, { padTokenId: config.padTokenId, tieWordEmbeddings: config.tieWordEmbeddings });
  const normalizerPath = path.join(directory, REWARD_NORMALIZER_FILE);
  if (await exists(normalizerPath)) {
    try {
      model.normalizer = await RewardNormalizer.load(normalizerPath);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  return model;
}

async function loadBackbone(directory: string): Promise<CausalLM> {
  const { model, unexpectedKeys } = await loadCausalLMWithReport(directory);
  const unexpected = unexpectedKeys.filter((key) => key !== SCORE_WEIGHT_NAME);
  if (unexpected.length > 0) console.warn(`loadRewardModel: ${directory} holds tensors no parameter uses: ${unexpected.join(', ')}`);
  return model;
}

/**
 * transformers' sequence-classification checkpoints have no `lm_head` even when the config says untied. The LM head
 * is never used for rewards, so the backbone is built tied (from a view of the directory whose config.json says so);
 * the reward model keeps the file's `tie_word_embeddings` for saving.
 */
async function loadWithoutLmHead(directory: string, json: Record<string, unknown>): Promise<CausalLM> {
  const view = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-reward-'));
  try {
    for (const entry of await fs.readdir(directory)) {
      if (entry !== 'config.json') await fs.symlink(path.resolve(directory, entry), path.join(view, entry));
    }
    await fs.writeFile(path.join(view, 'config.json'), JSON.stringify({ ...json, tie_word_embeddings: true }));
    return await loadBackbone(view);
  } finally {
    await fs.rm(view, { recursive: true, force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
