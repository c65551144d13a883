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
export { IdentityReducer } from './train/reducer';
export type { GradientReducer } from './train/reducer';
