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
export { matMul2d, batchMatMul } from './ops/mat_mul';
export { embeddingLookup } from './ops/embedding';
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
export { writeFileAtomic, replaceDirectoryAtomic, recoverInterruptedDirectorySwap } from './io/atomic_write';
export { bf16ToFloat32, float32ToBf16, f16ToFloat32 } from './io/float_conversion';
export type { SafetensorsDtype } from './io/safetensors_format';

// models
export { CausalLM } from './model/causal_lm';
export type { ForwardInputs, ForwardOutputs, BlockFunction } from './model/causal_lm';
export type { BlockContext, BlockOutput, ParameterSource } from './model/block_context';
export { Linear, applyLinear } from './model/linear';
export type { LinearLayer, WeightLayout } from './model/linear';
export { parseHfConfig, resolveModelConfig } from './model/model_config';
export type { ModelConfig, ModelConfigOptions, ModelFamily, ModelType, RopeConfig } from './model/model_config';
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
export { disposeCache } from './model/kv_cache';
export type { KVCache } from './model/kv_cache';
export { positionIdsFromMask } from './model/position_ids';

// tokenizer
export { Tokenizer, loadTokenizer, padSequences } from './tokenizer/tokenizer';
export type { BatchEncodeOptions, BatchEncoding, PaddingSide } from './tokenizer/tokenizer';
export { trainByteLevelBpe, resolveTrainBpeConfig, bytesToUnicode } from './tokenizer/train_bpe';
export type { TrainBpeOptions, TrainBpeConfig } from './tokenizer/train_bpe';

// scoring
export { sequenceLogProbs, tokenLogProbsFromLogits, sumMaskedLogProbs } from './scoring/sequence_log_probs';
export type { SequenceLogProbsOptions } from './scoring/sequence_log_probs';

// optimization
export { AdamW, resolveAdamWConfig, defaultNoDecay } from './optim/adamw';
export type { AdamWOptions, AdamWConfig, OptimizerState, OptimizerStateTensor } from './optim/adamw';
export { createLrSchedule, resolveLrScheduleConfig } from './optim/lr_schedule';
export type { LrSchedule, LrScheduleOptions, LrScheduleConfig, LrScheduleType } from './optim/lr_schedule';
export { GradientAccumulator } from './optim/gradient_accumulator';
export { aggregateLoss, maskCounts } from './train/aggregate_loss';
export type { AggregateLossOptions, LossAggregationMode } from './train/aggregate_loss';
export { clipGradNorm } from './train/clip_grad_norm';
export type { ClipGradNormResult } from './train/clip_grad_norm';
export { IdentityReducer } from './train/reducer';
export type { GradientReducer } from './train/reducer';

// data
export { CHAT_ROLES, isChatRole } from './data/chat_message';
export type { ChatMessage, ChatRole } from './data/chat_message';

// generation
export { generate, resolveGenerationConfig } from './generation/generate';
export type { GenerationOptions, GenerationConfig, GenerationOutput } from './generation/generate';
export { sampleToken } from './generation/sampling';
export type { SamplingConfig, SampledToken } from './generation/sampling';
export { createRng } from './random/rng';
export type { Rng } from './random/rng';
