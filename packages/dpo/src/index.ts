// Public API of @rlhfjs/dpo: explicit named exports only.
export { dpoLoss } from './loss/dpo_loss';
export type { DpoLossInputs, DpoLossMetrics, DpoLossResult, DpoLossAggregation } from './loss/dpo_loss';
export {
  resolveDpoLossConfig,
  DPO_LOSS_TYPES,
  REFERENCE_FREE_DPO_LOSS_TYPES,
  LENGTH_NORMALISED_DPO_LOSS_TYPES,
} from './loss/dpo_loss_config';
export type { DpoLossType, DpoLossOptions, DpoLossConfig, WeightedDpoLossType } from './loss/dpo_loss_config';
export { DPOTrainer, REFERENCE_LOGPS_CACHE_FILE } from './trainer/dpo_trainer';
export type { DPOTrainerOptions, DPOInputs, DpoMetrics } from './trainer/dpo_trainer';
export { collatePreferenceBatch, concatenatedForward } from './trainer/preference_batch';
export type { DpoExample, ConcatenatedPreferenceBatch, ConcatenatedForwardOutputs } from './trainer/preference_batch';
export { referenceLogps } from './reference/reference_policy';
export type { ReferencePolicy, ReferenceLogps } from './reference/reference_policy';
