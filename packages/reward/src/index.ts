// Public API of @rlhfjs/reward: explicit named exports only.

// model
export { RewardModel, SCORE_WEIGHT_NAME } from './model/reward_model';
export type { RewardModelOptions, RewardModelParts } from './model/reward_model';
export { lastRealTokenIndices, gatherPositions } from './model/last_token';
export {
  saveRewardModel,
  loadRewardModel,
  rewardModelConfigJson,
  rewardModelStateDict,
  sequenceClassificationArchitecture,
} from './model/reward_model_io';
export type { SaveRewardModelOptions } from './model/reward_model_io';

// loss
export { pairwiseRewardLoss, pairwiseRewardMetrics } from './loss/pairwise_loss';
export type { PairwiseRewardInputs, PairwiseRewardLossOptions, PairwiseRewardMetrics, PairwiseRewardLossResult } from './loss/pairwise_loss';

// data
export { tokenizePreferencePairs, collatePreferenceBatch } from './data/preference_pairs';
export type {
  PreferenceText,
  PreferenceExample,
  PreferenceTokenizer,
  TokenizedPair,
  TokenizePreferenceOptions,
  TokenizedPreferences,
  PreferenceBatch,
} from './data/preference_pairs';

// evaluation
export { evaluateRewardModel } from './eval/evaluate_reward_model';
export type { EvaluateRewardModelOptions, RewardEvaluation } from './eval/evaluate_reward_model';

// training
export { RewardTrainer } from './train/reward_trainer';
export type { RewardTrainerInputs, RewardLogRecord, RewardTrainResult } from './train/reward_trainer';
export { resolveRewardTrainerConfig } from './train/reward_trainer_config';
export type { RewardTrainerOptions, RewardTrainerConfig } from './train/reward_trainer_config';

// normalization
export { RewardNormalizer, REWARD_NORMALIZER_FILE } from './normalize/reward_normalizer';
export type { RewardNormalizerOptions, RewardNormalizerState } from './normalize/reward_normalizer';

// reward functions
export { rewardFnFromFunction } from './reward_fn/reward_fn';
export type { RewardFn, RewardFunction } from './reward_fn/reward_fn';
export { rewardFnFromModel, resolveRewardFnFromModelConfig } from './reward_fn/from_model';
export type { RewardFnFromModelOptions, RewardFnFromModelConfig } from './reward_fn/from_model';
export { ensembleRewards } from './reward_fn/ensemble';
export type { EnsembleMode, EnsembleOptions } from './reward_fn/ensemble';
