import { ConfigError } from '@rlhfjs/core';
import { deriveSecret } from '../transport/auth';
import { detectDistEnv, type DistEnv, type DistEnvSource } from '../env/detect_dist_env';
import { ENGINE_CHOICES, type EngineChoice } from '../engine/default_engine';
import type { StoreKind } from '../store/rendezvous_store';
import { TORCH_STORE_PROTOCOLS, type TorchStoreProtocol } from '../store/torch_store_protocol';

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
  /**
   * Which store to rendezvous through: `rlhfjs` (rank 0 serves our authenticated store on MASTER_PORT) or
   * `torch` (a PyTorch c10d TCPStore already listens there: torchrun's agent store). Default `torch` when
   * `TORCHELASTIC_USE_AGENT_STORE` is `True`, else `rlhfjs`.
   */
  readonly store?: StoreKind;
  /** Wire protocol of the PyTorch TCPStore: `auto` (default, or `RLHFJS_TORCH_STORE_PROTOCOL`), `v1` (1.13), `v2` (2.x). */
  readonly torchStoreProtocol?: TorchStoreProtocol | 'auto';
  /**
   * Collective engine for allReduce, broadcast and barrier: `auto` (default, or `RLHFJS_DIST_ENGINE`) takes Gloo
   * when its addon is built, else the pure-JS TCP ring; `gloo` requires the addon; `ring` never uses it.
   */
  readonly engine?: EngineChoice;
  /** The environment to detect from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Where the shared secret came from; `derived` (from the run id) protects nothing against anyone who can guess it. */
export type SecretSource = 'option' | 'env' | 'derived';

export interface ProcessGroupConfig extends DistEnv {
  readonly secret: string;
  readonly secretSource: SecretSource;
  readonly store: StoreKind;
  readonly torchStoreProtocol: TorchStoreProtocol | 'auto';
  readonly engine: EngineChoice;
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
  const chunkBytes = options.chunkBytes ?? 4 * 1024 * 1024;
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
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length === 0)) problems.push('secret must be a non-empty string');
  const agentStore = /^(true|1)$/i.test(env.TORCHELASTIC_USE_AGENT_STORE ?? '');
  const store = options.store ?? (agentStore ? 'torch' : 'rlhfjs');
  if (store !== 'rlhfjs' && store !== 'torch') problems.push(`store must be 'rlhfjs' or 'torch', got ${JSON.stringify(store)}`);
  const torchStoreProtocol = options.torchStoreProtocol ?? ((env.RLHFJS_TORCH_STORE_PROTOCOL ?? 'auto') as TorchStoreProtocol | 'auto');
  if (torchStoreProtocol !== 'auto' && !TORCH_STORE_PROTOCOLS.includes(torchStoreProtocol)) {
    problems.push(`torchStoreProtocol must be 'auto', 'v1' or 'v2', got ${JSON.stringify(torchStoreProtocol)}`);
  }
  const engine = (options.engine ?? env.RLHFJS_DIST_ENGINE ?? 'auto') as EngineChoice;
  if (!ENGINE_CHOICES.includes(engine)) {
    problems.push(`${options.engine === undefined ? 'RLHFJS_DIST_ENGINE' : 'engine'} must be one of ${ENGINE_CHOICES.join(', ')}, got ${JSON.stringify(engine)}`);
  }
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
    secret: options.secret ?? (env.RLHFJS_DIST_SECRET || undefined) ?? deriveSecret(runId),
    secretSource: options.secret !== undefined ? 'option' : env.RLHFJS_DIST_SECRET ? 'env' : 'derived',
    store,
    torchStoreProtocol,
    engine,
    timeoutMs,
    collectiveTimeoutMs,
    ringThresholdBytes,
    chunkBytes,
    advertiseAddr: options.advertiseAddr ?? env.RLHFJS_DIST_ADVERTISE_ADDR,
    bindAddr: isLoopback(masterAddr) ? '127.0.0.1' : '0.0.0.0',
  });
}
