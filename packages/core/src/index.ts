// Public API of @rlhfjs/core: explicit named exports only.

// errors
export {
  RlhfError,
  ConfigError,
  ShapeError,
  CheckpointError,
  DataError,
  TokenizerError,
  BackendError,
  TrainingError,
  DistError,
} from './errors/errors';

// backend
export { initBackend, BACKEND_PREFERENCE } from './backend/init_backend';
export type { InitBackendOptions, BackendChoice } from './backend/init_backend';
export { backendCapabilities, hasKernel } from './backend/capabilities';
export type { BackendCapabilities } from './backend/capabilities';

// ops
export { matMul2d, matMul2dTransposedB, batchMatMul, isFrozenWeight } from './ops/mat_mul';
export { embeddingLookup } from './ops/embedding';
export { geluNew, siluMul } from './ops/fused_activations';
export { targetLogProbs, targetLogProbsKernelName, targetLogProbsGradKernelName } from './ops/target_log_probs';
export { customOp } from './ops/custom_op';
export type { CustomOpResult } from './ops/custom_op';
export { tidyObject } from './ops/tidy_object';

// checkpoints
export { readSafetensors, readSafetensorsHeader } from './io/safetensors_reader';
export type { SafetensorsFile, TensorEntry, ReadSafetensorsOptions } from './io/safetensors_reader';
export { writeSafetensors } from './io/safetensors_writer';
export type { WritableTensor, WritableTensors, WriteSafetensorsOptions, FloatStorageDtype } from './io/safetensors_writer';
export { readCheckpointTensors, writeShardedSafetensors } from './io/sharded_checkpoint';
export type { ReadCheckpointOptions, WriteShardedOptions } from './io/sharded_checkpoint';
export { writeFileAtomic, replaceDirectoryAtomic, recoverInterruptedDirectorySwap, removeDirectoryAtomic, removeDirectoryLeftovers, writeFilesInto } from './io/atomic_write';
export { bf16ToFloat32, float32ToBf16, f16ToFloat32 } from './io/float_conversion';
export type { SafetensorsDtype } from './io/safetensors_format';

// models
export { CausalLM } from './model/causal_lm';
export type { ForwardInputs, ForwardOutputs, BlockFunction } from './model/causal_lm';
export type { BlockContext, BlockOutput, ParameterSource } from './model/block_context';
export { Linear, applyLinear } from './model/linear';
export type { LinearLayer, WeightLayout } from './model/linear';
export { parseHfConfig, resolveModelConfig, modelConfigOptionsOf, SUPPORTED_MODEL_TYPES } from './model/model_config';
export type { ModelConfig, ModelConfigOptions, ModelFamily, ModelType } from './model/model_config';
export { parseRopeConfig, SUPPORTED_ROPE_TYPES } from './model/rope_config';
export type { RopeConfig, RopeScaling, RopeType } from './model/rope_config';
export { ropeFrequencies } from './model/rope';
export type { RopeFrequencies } from './model/rope';
export { estimateModelSize, modelSizeProblems } from './model/model_size';
export type { ModelSizeEstimate, ModelSizeInputs } from './model/model_size';
export { parameterSpecs } from './model/parameter_specs';
export type { ParameterSpec, LinearSpec, TensorSpec } from './model/parameter_specs';
export {
  createCausalLM,
  loadCausalLM,
  loadCausalLMWithReport,
  saveCausalLM,
  modelStateDict,
  hfConfigJson,
} from './model/model_factory';
export type { CreateCausalLMOptions, LoadCausalLMResult, SaveCausalLMOptions } from './model/model_factory';
export { disposeCache, createKVCache, writeKeyValue, selectCacheRows, KV_CACHE_WRITE_KERNEL } from './model/kv_cache';
export type { KVCache } from './model/kv_cache';
export { positionIdsFromMask } from './model/position_ids';
export { enableGradientCheckpointing, disableGradientCheckpointing, isGradientCheckpointingEnabled } from './model/gradient_checkpointing';

// tokenizer
export { Tokenizer, loadTokenizer, padSequences } from './tokenizer/tokenizer';
export type { BatchEncodeOptions, BatchEncoding } from './tokenizer/tokenizer';
export { resolveTemplateLimitConfig, DEFAULT_TEMPLATE_MAX_STEPS, DEFAULT_TEMPLATE_MAX_OUTPUT_CHARS } from './tokenizer/bounded_template';
export type { TemplateLimitOptions, TemplateLimitConfig } from './tokenizer/bounded_template';
export type { PaddingSide } from './data/collate';
export { trainByteLevelBpe, resolveTrainBpeConfig, bytesToUnicode } from './tokenizer/train_bpe';
export type { TrainBpeOptions, TrainBpeConfig } from './tokenizer/train_bpe';

// scoring
export { sequenceLogProbs, tokenLogProbsFromLogits, sumMaskedLogProbs } from './scoring/sequence_log_probs';
export type { SequenceLogProbsOptions } from './scoring/sequence_log_probs';
export type { RewardFn } from './scoring/reward_fn';

// optimization
export { AdamW, resolveAdamWConfig, defaultNoDecay } from './optim/adamw';
export type { AdamWOptions, AdamWConfig, OptimizerState, OptimizerStateTensor } from './optim/adamw';
export { createLrSchedule, resolveLrScheduleConfig } from './optim/lr_schedule';
export type { LrSchedule, LrScheduleOptions, LrScheduleConfig, LrScheduleType } from './optim/lr_schedule';
export { GradientAccumulator } from './optim/gradient_accumulator';
export { aggregateLoss, maskCounts } from './train/aggregate_loss';
export type { AggregateLossOptions, LossAggregationMode } from './train/aggregate_loss';
export { withReferenceModel } from './train/reference_policy';
export type { ReferencePolicy } from './train/reference_policy';
export { clipGradNorm } from './train/clip_grad_norm';
export type { ClipGradNormResult } from './train/clip_grad_norm';
export { IdentityReducer } from './train/reducer';
export type { GradientReducer } from './train/reducer';

// data
export { CHAT_ROLES, isChatRole } from './data/chat_message';
export type { ChatMessage, ChatRole } from './data/chat_message';
export { DATA_ERROR_CODES } from './data/data_error_codes';
export type { DataErrorCode } from './data/data_error_codes';
export { DATASET_FORMATS, isDatasetFormat } from './data/records';
export type {
  DatasetFormat,
  DatasetRecord,
  RecordStyle,
  SftRecord,
  LanguageModelingRecord,
  PromptCompletionRecord,
  PlainPromptCompletionRecord,
  ConversationalPromptCompletionRecord,
  ConversationalRecord,
  PreferenceRecord,
  PlainPreferenceRecord,
  ConversationalPreferenceRecord,
  PromptOnlyRecord,
  PlainPromptOnlyRecord,
  ConversationalPromptOnlyRecord,
} from './data/records';
export { detectFormat, normalizeRecord, parseRecord } from './data/parse_record';
export type { RecordLocation, ParseRecordOptions } from './data/parse_record';
export { readJsonl, readJsonlLines, resolveReadJsonlConfig, DEFAULT_MAX_LINE_BYTES } from './data/jsonl_reader';
export type { ReadJsonlOptions, ReadJsonlConfig, JsonlRow, JsonlLine } from './data/jsonl_reader';
export { readJsonArray } from './data/json_array_reader';
export { loadDataset, resolveLoadDatasetConfig } from './data/load_dataset';
export type { LoadDatasetOptions, LoadDatasetConfig, LoadedDataset, DatasetFileType } from './data/load_dataset';
export type { TextTokenizer } from './data/text_tokenizer';
export { tokenizeSftExample, resolveSftTokenizeConfig } from './data/sft_tokenize';
export type { SftTokenizeOptions, SftTokenizeConfig, TokenizedSftExample } from './data/sft_tokenize';
export { tokenizePreferenceExample, resolvePreferenceTokenizeConfig } from './data/preference_tokenize';
export type { PreferenceTokenizeOptions, PreferenceTokenizeConfig, TokenizedPreferenceExample } from './data/preference_tokenize';
export { collatePreferencePairs } from './data/preference_collate';
export type { TokenizedPreferencePair, PreferenceCollateOptions, CollatedPreferencePairs } from './data/preference_collate';
export { tokenizePromptExample, resolvePromptTokenizeConfig, encodePrompt } from './data/prompt_tokenize';
export type { PromptTokenizeOptions, PromptTokenizeConfig, TokenizedPrompt } from './data/prompt_tokenize';
export { truncateTokens } from './data/truncate';
export type { TruncationSide, MaskedTokens } from './data/truncate';
export { collateBatch, resolveCollateConfig } from './data/collate';
export type { CollateExample, CollateOptions, CollateConfig, CollatedBatch } from './data/collate';
export { packExamples, resolvePackConfig } from './data/pack';
export type { PackOptions, PackConfig, PackedBatch } from './data/pack';
export { createRng, shuffleIndices } from './data/rng';
export { normalSample } from './data/normal_sample';
export type { Rng, RngState } from './data/rng';
export { BatchIterator, batchIterator, resolveBatchIteratorConfig } from './data/batch_iterator';
export type { BatchIteratorOptions, BatchIteratorConfig, BatchIteratorState, IndexBatch } from './data/batch_iterator';
export { generateArithmeticCorpus, resolveArithmeticCorpusConfig } from './data/synthetic_corpus';
export type { ArithmeticCorpusOptions, ArithmeticCorpusConfig, ArithmeticOperation } from './data/synthetic_corpus';

// training
export { trainStep } from './train/train_step';
export { variableGradsReleasing } from './train/releasing_grads';
export type { TrainStepOptions, TrainStepMetrics, LossFn, LossResult } from './train/train_step';
export { Trainer, epochOrder } from './train/trainer';
export type { TrainerTask, TrainerHooks, StepCounts, LogRecord, TrainResult } from './train/trainer';
export { resolveTrainerConfig } from './train/trainer_config';
export type { TrainerOptions, TrainerConfig } from './train/trainer_config';
export {
  saveTrainerCheckpoint,
  loadTrainerCheckpoint,
  listCheckpoints,
  listCheckpointFolders,
  isCompleteCheckpoint,
  readTrainerState,
  CHECKPOINT_NAME_PATTERN,
  TRAINER_CHECKPOINT_FILES,
} from './train/checkpoint';
export type { SaveTrainerCheckpointOptions } from './train/checkpoint';
export { parseTrainerState, TRAINER_STATE_ERROR_CODES } from './train/trainer_state';
export type { TrainerState } from './train/trainer_state';
export { prepareOutputDir, cleanOutputDir, previousRunFiles, truncateMetricsLog, OUTPUT_DIR_ERROR_CODES } from './train/output_dir';
export type { OutputDirRequest, PreparedOutputDir } from './train/output_dir';
export { SFTTrainer } from './sft/sft_trainer';
export type { SFTTrainerOptions, SFTInputs } from './sft/sft_trainer';
export { languageModelingLoss, countLossUnits } from './sft/sft_loss';
export type { LanguageModelingBatch } from './sft/sft_loss';

// generation
export { generate, resolveGenerationConfig } from './generation/generate';
export type { GenerationOptions, GenerationConfig, GenerationOutput } from './generation/generate';
export { sampleToken } from './generation/sampling';
export type { SamplingConfig, SampledToken } from './generation/sampling';
