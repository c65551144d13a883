import { createHash } from 'node:crypto';
import { ConfigError } from '@rlhfjs/core';
import { expandSlurmNodelist } from './slurm_nodelist';

/** Which launcher started this process. */
export type DistEnvSource = 'rlhfjs-run' | 'torchrun' | 'kubeflow' | 'openmpi' | 'slurm' | 'single';

export interface DistEnv {
  readonly source: DistEnvSource;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly masterAddr: string;
  readonly masterPort: number;
  /** Scopes rendezvous keys, and derives the default shared secret. */
  readonly runId: string;
  /** Elastic restarts (`TORCHELASTIC_RESTART_COUNT`, `SLURM_RESTART_COUNT`): scopes rendezvous keys too. */
  readonly restartCount: number;
}

/** torchrun's default port; used when a launcher gives none. */
export const DEFAULT_MASTER_PORT = 29500;

type Env = Readonly<Record<string, string | undefined>>;

interface RawEnv {
  source: DistEnvSource;
  rank: string | undefined;
  worldSize: string | undefined;
  localRank: string | undefined;
  localWorldSize: string | undefined;
  masterAddr: string | undefined;
  masterPort: string | undefined;
  runId: string | undefined;
  restartCount: string | undefined;
}

function hasPrefix(env: Env, prefix: string): boolean {
  return Object.keys(env).some((key) => key.startsWith(prefix) && env[key] !== undefined);
}

/** `2(x3),1` (Slurm's SLURM_TASKS_PER_NODE) → `2`: the count on the first node. */
function firstTaskCount(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return /^(\d+)/.exec(value)?.[1] ?? value;
}

function slurmMaster(env: Env, problems: string[]): string | undefined {
  if (env.MASTER_ADDR !== undefined) return env.MASTER_ADDR;
  const nodelist = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST ?? env.SLURM_STEP_NODELIST;
  if (nodelist === undefined) return undefined;
  try {
    return expandSlurmNodelist(nodelist)[0];
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
    return undefined;
  }
}

function readRaw(env: Env, problems: string[]): RawEnv {
  const torchStyle = (source: DistEnvSource): RawEnv => ({
    source,
    rank: env.RANK,
    worldSize: env.WORLD_SIZE,
    localRank: env.LOCAL_RANK,
    localWorldSize: env.LOCAL_WORLD_SIZE,
    masterAddr: env.MASTER_ADDR,
    masterPort: env.MASTER_PORT,
    runId: env.RLHFJS_RUN_ID ?? env.TORCHELASTIC_RUN_ID,
    restartCount: env.TORCHELASTIC_RESTART_COUNT,
  });
  if (env.RLHFJS_LAUNCHER !== undefined && env.RANK !== undefined) return torchStyle('rlhfjs-run');
  // Kubeflow's PyTorchJob sets MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK on every pod and, for torchrun inside
  // the pod (elastic or nprocPerNode), PET_NNODES/PET_NPROC_PER_NODE/PET_NODE_RANK/PET_MASTER_*.
  const kubeflow =
    hasPrefix(env, 'PET_') || env.KUBEFLOW_PYTORCHJOB !== undefined || env.PYTORCHJOB_NAME !== undefined;
  if (env.RANK !== undefined || env.WORLD_SIZE !== undefined) return torchStyle(kubeflow ? 'kubeflow' : 'torchrun');
  if (env.OMPI_COMM_WORLD_RANK !== undefined || env.OMPI_COMM_WORLD_SIZE !== undefined) {
    return {
      source: 'openmpi',
      rank: env.OMPI_COMM_WORLD_RANK,
      worldSize: env.OMPI_COMM_WORLD_SIZE,
      localRank: env.OMPI_COMM_WORLD_LOCAL_RANK,
      localWorldSize: env.OMPI_COMM_WORLD_LOCAL_SIZE,
      masterAddr: env.MASTER_ADDR,
      masterPort: env.MASTER_PORT,
      runId: env.RLHFJS_RUN_ID ?? env.OMPI_MCA_orte_ess_jobid ?? env.OMPI_MCA_ess_base_jobid,
      restartCount: undefined,
    };
  }
  if (env.SLURM_PROCID !== undefined) {
    const jobId = env.SLURM_JOB_ID ?? env.SLURM_JOBID;
    return {
      source: 'slurm',
      rank: env.SLURM_PROCID,
      worldSize: env.SLURM_NTASKS ?? env.SLURM_NPROCS,
      localRank: env.SLURM_LOCALID,
      localWorldSize: firstTaskCount(env.SLURM_NTASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE),
      masterAddr: slurmMaster(env, problems),
      masterPort: env.MASTER_PORT,
      runId: env.RLHFJS_RUN_ID ?? (jobId === undefined ? undefined : `${jobId}.${env.SLURM_STEP_ID ?? '0'}`),
      restartCount: env.SLURM_RESTART_COUNT,
    };
  }
  return {
    source: 'single',
    rank: '0',
    worldSize: '1',
    localRank: '0',
    localWorldSize: '1',
    masterAddr: env.MASTER_ADDR,
    masterPort: env.MASTER_PORT,
    runId: env.RLHFJS_RUN_ID,
    restartCount: undefined,
  };
}

function parseCount(
  name: string,
  value: string | undefined,
  fallback: number | undefined,
  minimum: number,
  problems: string[],
): number {
  if (value === undefined || value === '') {
    if (fallback !== undefined) return fallback;
    problems.push(`${name} is not set`);
    return minimum;
  }
  const parsed = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < minimum) {
    problems.push(`${name} must be an integer >= ${minimum}, got "${value}"`);
    return minimum;
  }
  return parsed;
}

/**
 * Read rank, world size and the rendezvous address from the environment of whatever launched this process:
 * `rlhfjs-run`, torchrun (also `torchrun --no-python node train.js`), Kubeflow PyTorchJob, Open MPI's mpirun,
 * Slurm's srun; a single process otherwise. Every inconsistency is collected into one `ConfigError`.
 */
export function detectDistEnv(env: Env = process.env): DistEnv {
  const problems: string[] = [];
  const raw = readRaw(env, problems);
  const variable = (field: keyof RawEnv): string => {
    switch (raw.source) {
      case 'rlhfjs-run':
      case 'torchrun':
      case 'kubeflow':
        return ({ rank: 'RANK', worldSize: 'WORLD_SIZE', localRank: 'LOCAL_RANK', localWorldSize: 'LOCAL_WORLD_SIZE' } as Record<string, string>)[field] ?? field;
      case 'openmpi':
        return ({ rank: 'OMPI_COMM_WORLD_RANK', worldSize: 'OMPI_COMM_WORLD_SIZE', localRank: 'OMPI_COMM_WORLD_LOCAL_RANK', localWorldSize: 'OMPI_COMM_WORLD_LOCAL_SIZE' } as Record<string, string>)[field] ?? field;
      case 'slurm':
        return ({ rank: 'SLURM_PROCID', worldSize: 'SLURM_NTASKS', localRank: 'SLURM_LOCALID', localWorldSize: 'SLURM_NTASKS_PER_NODE' } as Record<string, string>)[field] ?? field;
      case 'single':
        return field;
      default: {
        const exhaustive: never = raw.source;
        return exhaustive;
      }
    }
  };
  const worldSize = parseCount(variable('worldSize'), raw.worldSize, undefined, 1, problems);
  const rank = parseCount(variable('rank'), raw.rank, undefined, 0, problems);
  // Without local information, a process is alone on its node (Kubeflow without torchrun in the pod).
  const localRank = parseCount(variable('localRank'), raw.localRank, raw.localWorldSize === undefined ? 0 : undefined, 0, problems);
  const localWorldSize = parseCount(variable('localWorldSize'), raw.localWorldSize, raw.localRank === undefined ? 1 : undefined, 1, problems);
  if (rank >= worldSize) problems.push(`${variable('rank')}=${rank} must be < ${variable('worldSize')}=${worldSize}`);
  if (localRank >= localWorldSize) {
    problems.push(`${variable('localRank')}=${localRank} must be < ${variable('localWorldSize')}=${localWorldSize}`);
  }
  if (localWorldSize > worldSize) {
    problems.push(`${variable('localWorldSize')}=${localWorldSize} must be <= ${variable('worldSize')}=${worldSize}`);
  }
  let masterAddr = raw.masterAddr;
  if (masterAddr === undefined || masterAddr === '') {
    // Everything on one node: the master is this machine.
    if (worldSize === 1 || localWorldSize === worldSize) masterAddr = '127.0.0.1';
    else problems.push(`MASTER_ADDR is not set and ${worldSize} ranks span several nodes (source ${raw.source})`);
  }
  const masterPort = parseCount('MASTER_PORT', raw.masterPort, DEFAULT_MASTER_PORT, 1, problems);
  if (masterPort > 65535) problems.push(`MASTER_PORT must be <= 65535, got ${masterPort}`);
  const restartCount = parseCount('TORCHELASTIC_RESTART_COUNT', raw.restartCount, 0, 0, problems);
  if (problems.length > 0) throw new ConfigError(`detectDistEnv (source ${raw.source})`, problems);
  const runId =
    raw.runId !== undefined && raw.runId !== '' && raw.runId !== 'none'
      ? raw.runId
      : `default-${createHash('sha256').update(`${masterAddr}:${masterPort}`).digest('hex').slice(0, 12)}`;
  return Object.freeze({
    source: raw.source,
    rank,
    worldSize,
    localRank,
    localWorldSize,
    masterAddr: masterAddr ?? '127.0.0.1',
    masterPort,
    runId,
    restartCount,
  });
}
