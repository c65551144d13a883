// Public API of @rlhfjs/dist: explicit named exports only.
export { detectDistEnv, DEFAULT_MASTER_PORT } from './env/detect_dist_env';
export type { DistEnv, DistEnvSource } from './env/detect_dist_env';
export { expandSlurmNodelist } from './env/slurm_nodelist';
export { initProcessGroup } from './group/init_process_group';
export { ProcessGroup } from './group/process_group';
export type { ProcessGroupSettings } from './group/process_group';
export { resolveProcessGroupConfig } from './group/process_group_config';
export type { ProcessGroupOptions, ProcessGroupConfig } from './group/process_group_config';
export { segmentBounds, REDUCE_OPS } from './group/reduce_op';
export type { ReduceOp, FloatArray } from './group/reduce_op';
export { deriveSecret } from './transport/auth';
export { StoreServer } from './store/store_server';
export type { StoreServerOptions } from './store/store_server';
export { StoreClient } from './store/store_client';
