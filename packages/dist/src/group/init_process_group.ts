import { DistError } from '@rlhfjs/core';
import type { RendezvousStore } from '../store/rendezvous_store';
import { StoreClient } from '../store/store_client';
import { StoreServer } from '../store/store_server';
import { TorchStoreClient } from '../store/torch_store_client';
import { BufferPool } from '../transport/buffer_pool';
import { connectMesh } from './mesh';
import { warnOnceWithoutSecret } from './no_secret_warning';
import { ProcessGroup } from './process_group';
import { resolveProcessGroupConfig, type ProcessGroupConfig, type ProcessGroupOptions } from './process_group_config';

/** The largest frame a peer may announce: the biggest piece any collective sends (chunks, small stars). */
export function maxFrameBytes(config: Pick<ProcessGroupConfig, 'chunkBytes' | 'ringThresholdBytes'>): number {
  return Math.max(config.chunkBytes, config.ringThresholdBytes, 64 * 1024);
}

/**
 * Join the process group of this run: detect rank and world size from the launcher's environment (options
 * override it), rendezvous through the key-value store on MASTER_ADDR:MASTER_PORT — served by rank 0, or, under
 * torchrun with `TORCHELASTIC_USE_AGENT_STORE=True`, the PyTorch TCPStore its agent already hosts there — and
 * connect every pair of ranks. Rejects with `DistError('RENDEZVOUS')` when not every rank joins within
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
    const peers = await connectMesh(config, client, pool, deadline, maxFrameBytes(config));
    client.close();
    const storeServer = server;
    return new ProcessGroup(settings, peers, pool, () => storeServer?.close());
  } catch (error) {
    client?.close();
    server?.close();
    if (error instanceof DistError) throw error;
    throw new DistError('RENDEZVOUS', `initProcessGroup: rank ${config.rank}: ${String(error)}`, { cause: error });
  }
}
