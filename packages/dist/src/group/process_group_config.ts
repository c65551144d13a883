import { ConfigError } from '@rlhfjs/core';
import { deriveSecret } from '../transport/auth';
import { detectDistEnv, type DistEnv, type DistEnvSource } from '../env/detect_dist_env';

export interface ProcessGroupOptions {
  /** Override the detected environment (all of these default to `detectDistEnv(env)`). */
  readonly rank?: number;
  readonly worldSize?: number;
  readonly localRank?: number;
  readonly localWorldSize?: number;
  readonly masterAddr?: string;
  readonly masterPort?: number;
  readonly runId?: string;
  readonly restartCount?: number;
  /** Shared secret; default `RLHFJS_DIST_SECRET`, else derived from the run id. */
  readonly secret?: string;
  /** Rendezvous deadline in ms (default 30 000). */
  readonly timeoutMs?: number;
  /** Deadline of every collective in ms (default `RLHFJS_DIST_COLLECTIVE_TIMEOUT_MS` or 300 000). */
  readonly collectiveTimeoutMs?: number;
  /** Buffers of at least this many bytes take the ring (all-reduce) or the chain (broadcast); default 256 KiB. */
  readonly ringThresholdBytes?: number;
  /** Frame size of the pipelined ring and chain in bytes; default 1 MiB. */
  readonly chunkBytes?: number;
  /** Address to publish for this rank's data socket; default the local address that reaches the store. */
  readonly advertiseAddr?: string;
  /** The environment to detect from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ProcessGroupConfig extends DistEnv {
  readonly secret: string;
  readonly timeoutMs: number;
  readonly collectiveTimeoutMs: number;
  readonly ringThresholdBytes: number;
  readonly chunkBytes: number;
  readonly advertiseAddr: string | undefined;
  /** Host the store (rank 0) and data sockets listen on: loopback when the master is loopback. */
  readonly bindAddr: string;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

export function resolveProcessGroupConfig(options: ProcessGroupOptions = {}): ProcessGroupConfig {
  const env = options.env ?? process.env;
  const detected = detectDistEnv(env);
  const problems: string[] = [];
  const integer = (name: string, value: number, minimum: number): void => {
    if (!Number.isSafeInteger(value) || value < minimum) problems.push(`${name} must be an integer >= ${minimum}, got ${value}`);
  };
  const rank = options.rank ?? detected.rank;
  const worldSize = options.worldSize ?? detected.worldSize;
  const localRank = options.localRank ?? (options.rank === undefined ? detected.localRank : 0);
  const localWorldSize = options.localWorldSize ?? (options.worldSize === undefined ? detected.localWorldSize : 1);
  const masterPort = options.masterPort ?? detected.masterPort;
  const envTimeout = env.RLHFJS_DIST_COLLECTIVE_TIMEOUT_MS;
  const collectiveTimeoutMs = options.collectiveTimeoutMs ?? (envTimeout === undefined ? 300_000 : Number(envTimeout));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const ringThresholdBytes = options.ringThresholdBytes ?? 256 * 1024;
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const restartCount = options.restartCount ?? detected.restartCount;
  integer('worldSize', worldSize, 1);
  integer('rank', rank, 0);
  integer('localRank', localRank, 0);
  integer('localWorldSize', localWorldSize, 1);
  integer('masterPort', masterPort, 1);
  integer('restartCount', restartCount, 0);
  if (rank >= worldSize) problems.push(`rank ${rank} must be < worldSize ${worldSize}`);
  if (worldSize > 4096) problems.push(`worldSize ${worldSize} is above the supported 4096`);
  if (masterPort > 65535) problems.push(`masterPort must be <= 65535, got ${masterPort}`);
  if (!(timeoutMs > 0)) problems.push(`timeoutMs must be > 0, got ${timeoutMs}`);
  if (!(collectiveTimeoutMs > 0)) problems.push(`collectiveTimeoutMs must be > 0, got ${collectiveTimeoutMs}`);
  integer('ringThresholdBytes', ringThresholdBytes, 0);
  integer('chunkBytes', chunkBytes, 8);
  if (chunkBytes % 8 !== 0) problems.push(`chunkBytes must be a multiple of 8, got ${chunkBytes}`);
  if (options.secret !== undefined && options.secret.length === 0) problems.push('secret must not be empty');
  if (problems.length > 0) throw new ConfigError('resolveProcessGroupConfig', problems);
  const masterAddr = options.masterAddr ?? detected.masterAddr;
  const runId = options.runId ?? detected.runId;
  const source: DistEnvSource = detected.source;
  return Object.freeze({
    source,
    rank,
    worldSize,
    localRank,
    localWorldSize,
    masterAddr,
    masterPort,
    runId,
    restartCount,
    secret: options.secret ?? env.RLHFJS_DIST_SECRET ?? deriveSecret(runId),
    timeoutMs,
    collectiveTimeoutMs,
    ringThresholdBytes,
    chunkBytes,
    advertiseAddr: options.advertiseAddr ?? env.RLHFJS_DIST_ADVERTISE_ADDR,
    bindAddr: isLoopback(masterAddr) ? '127.0.0.1' : '0.0.0.0',
  });
}
