import { ConfigError, DistError } from '@rlhfjs/core';
import { connectDefaultEngine } from '../engine/default_engine';
import { glooUnavailableReason, isGlooAvailable } from '../engine/gloo_addon';
import type { GlooEngine } from '../engine/gloo_engine';
import type { RendezvousStore } from '../store/rendezvous_store';
import { StoreClient } from '../store/store_client';
import { StoreServer } from '../store/store_server';
import { TorchStoreClient } from '../store/torch_store_client';
import { BufferPool } from '../transport/buffer_pool';
import type { FrameConnection } from '../transport/frame_connection';
import { connectMesh } from './mesh';
import { warnOnceWithoutSecret } from './no_secret_warning';
import { ProcessGroup } from './process_group';
import { resolveProcessGroupConfig, type ProcessGroupConfig, type ProcessGroupOptions } from './process_group_config';

/** How much later than the group's deadline the engine's own fires (the group's blames a rank first). */
const ENGINE_DEADLINE_SLACK_MS = 2000;

/** The largest frame a peer may announce: the biggest piece any collective sends (chunks, small stars). */
export function maxFrameBytes(config: Pick<ProcessGroupConfig, 'chunkBytes' | 'ringThresholdBytes'>): number {
  return Math.max(config.chunkBytes, config.ringThresholdBytes, 64 * 1024);
}

/**
 * Join the process group of this run: detect rank and world size from the launcher's environment (options
 * override it), rendezvous through the key-value store on MASTER_ADDR:MASTER_PORT — served by rank 0, or, under
 * torchrun with `TORCHELASTIC_USE_AGENT_STORE=True`, the PyTorch TCPStore its agent already hosts there — and
 * connect every pair of ranks. Where the Gloo addon is built (and `engine` / `RLHFJS_DIST_ENGINE` is not `ring`),
 * Gloo then meets through the same store and carries allReduce, broadcast and barrier. Rejects with `DistError('RENDEZVOUS')` when not every rank joins within
 * `timeoutMs`, and with `DistError('AUTH')` when the store or a peer does not accept this rank's secret.
 */
export async function initProcessGroup(options: ProcessGroupOptions = {}): Promise<ProcessGroup> {
  const config = resolveProcessGroupConfig(options);
  const settings = {
    rank: config.rank,
    worldSize: config.worldSize,
    collectiveTimeoutMs: config.collectiveTimeoutMs,
    ringThresholdBytes: config.ringThresholdBytes,
    chunkBytes: config.chunkBytes,
  };
  const pool = new BufferPool();
  if (config.worldSize === 1) return new ProcessGroup(settings, [undefined], pool);
  warnOnceWithoutSecret(config);
  const deadline = Date.now() + config.timeoutMs;
  let server: StoreServer | undefined;
  let client: RendezvousStore | undefined;
  let engine: GlooEngine | undefined;
  let peers: Array<FrameConnection | undefined> | undefined;
  if (config.engine === 'gloo' && !isGlooAvailable()) {
    throw new ConfigError('initProcessGroup', [`engine 'gloo' was asked for but its addon is not available: ${glooUnavailableReason()}`]);
  }
  try {
    if (config.store === 'torch') {
      client = await TorchStoreClient.connect(config.masterAddr, config.masterPort, { protocol: config.torchStoreProtocol, deadline });
    } else {
      if (config.rank === 0) {
        server = await StoreServer.start({
          host: config.bindAddr,
          port: config.masterPort,
          secret: config.secret,
          handshakeTimeoutMs: Math.min(10_000, config.timeoutMs),
        });
      }
      client = await StoreClient.connect(config.masterAddr, config.masterPort, config.secret, deadline);
    }
    peers = await connectMesh(config, client, pool, deadline, maxFrameBytes(config));
    // Gloo meets through the same store, before it closes; its barrier holds the store open until every rank is in.
    engine = await connectDefaultEngine(client, {
      rank: config.rank,
      worldSize: config.worldSize,
      runId: config.runId,
      restartCount: config.restartCount,
      hostname: config.advertiseAddr ?? (client.localAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      timeoutMs: Math.max(1, deadline - Date.now()),
      // the group's own deadline comes first: it probes the mesh to name the rank that stalled
      collectiveTimeoutMs: config.collectiveTimeoutMs + ENGINE_DEADLINE_SLACK_MS,
      engine: config.engine,
    });
    await engine?.barrier();
    client.close();
    const storeServer = server;
    return new ProcessGroup(settings, peers, pool, () => storeServer?.close(), engine);
  } catch (error) {
    await engine?.destroy();
    peers?.forEach((connection) => connection?.socket.destroy());
    client?.close();
    server?.close();
    if (error instanceof DistError || error instanceof ConfigError) throw error;
    throw new DistError('RENDEZVOUS', `initProcessGroup: rank ${config.rank}: ${String(error)}`, { cause: error });
  }
}
