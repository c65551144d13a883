import { DistError } from '@rlhfjs/core';
import { resolveProcessGroupConfig, type ProcessGroupOptions } from '../group/process_group_config';
import { StoreClient } from '../store/store_client';
import { StoreServer } from '../store/store_server';
import { GlooEngine } from './gloo_engine';

/**
 * Join a Gloo engine the way `initProcessGroup` joins the TCP ring: rank and world size from the launcher's
 * environment (options override), rendezvous through the store rank 0 serves on MASTER_ADDR:MASTER_PORT, then
 * Gloo connects every pair. The store closes once every rank is connected (a Gloo barrier).
 */
export async function initGlooEngine(options: ProcessGroupOptions = {}): Promise<GlooEngine> {
  const config = resolveProcessGroupConfig(options);
  const engineOptions = {
    rank: config.rank,
    worldSize: config.worldSize,
    keyPrefix: `gloo/${config.runId}/${config.restartCount}`,
    timeoutMs: config.timeoutMs,
    collectiveTimeoutMs: config.collectiveTimeoutMs,
  };
  if (config.worldSize === 1) return GlooEngine.connect({ set: async () => undefined, get: async () => '', wait: async () => undefined }, engineOptions);
  const deadline = Date.now() + config.timeoutMs;
  let server: StoreServer | undefined;
  let client: StoreClient | undefined;
  try {
    if (config.rank === 0) {
      server = await StoreServer.start({
        host: config.bindAddr,
        port: config.masterPort,
        secret: config.secret,
        handshakeTimeoutMs: Math.min(10_000, config.timeoutMs),
      });
    }
    client = await StoreClient.connect(config.masterAddr, config.masterPort, config.secret, deadline);
    const hostname = config.advertiseAddr ?? client.socket.localAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
    const engine = await GlooEngine.connect(client, { ...engineOptions, hostname, timeoutMs: Math.max(1, deadline - Date.now()) });
    await engine.barrier();
    return engine;
  } catch (error) {
    if (error instanceof DistError) throw error;
    throw new DistError('RENDEZVOUS', `initGlooEngine: rank ${config.rank}: ${String(error)}`, { cause: error });
  } finally {
    client?.close();
    server?.close();
  }
}
