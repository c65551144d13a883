import { ConfigError, DistError } from '@rlhfjs/core';
import { REDUCE_OPS, type FloatArray, type ReduceOp } from '../group/reduce_op';
import type { CollectiveEngine } from './collective_engine';
import { glooUnavailableReason, loadGlooAddon, type NativeGlooGroup } from './gloo_addon';
import { glooStoreFunction, type GlooRendezvousStore } from './gloo_store_bridge';

export interface GlooEngineOptions {
  /** This rank and the number of ranks (required). */
  readonly rank?: number;
  readonly worldSize?: number;
  /** Address this rank's Gloo sockets listen on and publish; default 127.0.0.1. Use the address peers reach. */
  readonly hostname?: string;
  /** Prefix of the store keys Gloo's rendezvous writes (scope it by run id and restart); default 'gloo'. */
  readonly keyPrefix?: string;
  /** Deadline of the rendezvous (store round trips and connecting every pair) in ms; default 30 000. */
  readonly timeoutMs?: number;
  /** Deadline of every collective in ms; default 300 000. A dead peer is reported sooner, when its socket closes. */
  readonly collectiveTimeoutMs?: number;
  /**
   * Gloo contexts (each its own sockets and I/O thread) an all-reduce of 4 MiB or more is split over, run side by
   * side, so one ring's reduction overlaps another's socket traffic; at most 16; every rank must use the same
   * number. Default: `RLHFJS_GLOO_CHANNELS`, else 2 (on 2 cores, 100 MB: 2 ranks 1.56×, 4 ranks 1.25–1.28× the
   * bandwidth of PyTorch's Gloo, against 1.02–1.18× with one channel).
   */
  readonly channels?: number;
}

export interface GlooEngineConfig {
  readonly rank: number;
  readonly worldSize: number;
  readonly hostname: string;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly collectiveTimeoutMs: number;
  readonly channels: number;
}

/** Extra time the JS side grants the native call past its own deadline before it gives up on it. */
const NATIVE_GRACE_MS = 10_000;

export function resolveGlooEngineConfig(options: GlooEngineOptions = {}): GlooEngineConfig {
  const problems: string[] = [];
  const { rank, worldSize } = options;
  const hostname = options.hostname ?? '127.0.0.1';
  const keyPrefix = options.keyPrefix ?? 'gloo';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const collectiveTimeoutMs = options.collectiveTimeoutMs ?? 300_000;
  const channelsText = process.env['RLHFJS_GLOO_CHANNELS'];
  const channels = options.channels ?? (channelsText === undefined || channelsText === '' ? 2 : Number(channelsText));
  if (worldSize === undefined || !Number.isSafeInteger(worldSize) || worldSize < 1) problems.push(`worldSize must be an integer >= 1, got ${worldSize}`);
  if (rank === undefined || !Number.isSafeInteger(rank) || rank < 0) problems.push(`rank must be an integer >= 0, got ${rank}`);
  else if (worldSize !== undefined && rank >= worldSize) problems.push(`rank ${rank} must be < worldSize ${worldSize}`);
  if (hostname.length === 0) problems.push('hostname must not be empty');
  if (keyPrefix.length === 0) problems.push('keyPrefix must not be empty');
  if (!(Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) problems.push(`timeoutMs must be an integer > 0, got ${timeoutMs}`);
  if (!(Number.isSafeInteger(collectiveTimeoutMs) && collectiveTimeoutMs > 0)) {
    problems.push(`collectiveTimeoutMs must be an integer > 0, got ${collectiveTimeoutMs}`);
  }
  if (!(Number.isSafeInteger(channels) && channels >= 1 && channels <= 16)) {
    problems.push(`channels (or RLHFJS_GLOO_CHANNELS) must be an integer in [1, 16], got ${options.channels ?? JSON.stringify(channelsText)}`);
  }
  if (problems.length > 0) throw new ConfigError('resolveGlooEngineConfig', problems);
  return Object.freeze({ rank: rank as number, worldSize: worldSize as number, hostname, keyPrefix, timeoutMs, collectiveTimeoutMs, channels });
}

const OP_CODES: Readonly<Record<ReduceOp, number>> = { sum: 0, mean: 1, max: 2, min: 3 };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  return `${typeof value} ${String(value).slice(0, 60)}`;
}

/**
 * Collectives over Gloo (Debian's libgloo, TCP transport) through the N-API addon built at install. The ranks meet
 * through a rendezvous store (ours or torchrun's); every collective runs on libuv's thread pool, so the event loop
 * stays responsive. Failures become `DistError`: `PEER_LOST` when a peer's connection breaks, `TIMEOUT` past the
 * deadline, `RENDEZVOUS` when the ranks cannot meet; after one, every later call throws `DistError('ABORTED')`.
 */
export class GlooEngine implements CollectiveEngine {
  readonly name = 'gloo' as const;
  readonly rank: number;
  readonly worldSize: number;
  private chain: Promise<unknown> = Promise.resolve();
  private sequence = 0;
  private failure: DistError | undefined;
  private destroyed = false;

  private constructor(
    private readonly config: GlooEngineConfig,
    private readonly native: NativeGlooGroup | undefined,
  ) {
    this.rank = config.rank;
    this.worldSize = config.worldSize;
  }

  /**
   * Rendezvous through `store` and connect every pair of ranks. Rejects with `DistError('UNAVAILABLE')` when the
   * addon was not built (check `isGlooAvailable()` first), `DistError('RENDEZVOUS')` when not every rank joins
   * within `timeoutMs`.
   */
  static async connect(store: GlooRendezvousStore, options: GlooEngineOptions): Promise<GlooEngine> {
    const config = resolveGlooEngineConfig(options);
    if (config.worldSize === 1) return new GlooEngine(config, undefined);
    const addon = loadGlooAddon();
    if (addon === null) {
      throw new DistError('UNAVAILABLE', `GlooEngine.connect: the Gloo addon is not available (${glooUnavailableReason()})`);
    }
    const native = new addon.GlooGroup(config.rank, config.worldSize, config.hostname, config.collectiveTimeoutMs, config.channels);
    const where = `GlooEngine.connect: rank ${config.rank} of ${config.worldSize}`;
    try {
      await withDeadline(native.connect(glooStoreFunction(store, config.keyPrefix), config.timeoutMs), config.timeoutMs + NATIVE_GRACE_MS, where, 'RENDEZVOUS');
    } catch (error) {
      native.close();
      throw asDistError(error, where, 'RENDEZVOUS');
    }
    return new GlooEngine(config, native);
  }

  /** Whether the engine has failed (and why). */
  get abortReason(): DistError | undefined {
    return this.failure;
  }

  allReduce<T extends FloatArray>(buffer: T, op: ReduceOp = 'sum'): Promise<T> {
    const problems: string[] = [];
    if (!(buffer instanceof Float32Array || buffer instanceof Float64Array)) problems.push(`buffer must be a Float32Array or Float64Array, got ${describe(buffer)}`);
    if (!REDUCE_OPS.includes(op)) problems.push(`op must be one of ${REDUCE_OPS.join(', ')}, got ${describe(op)}`);
    if (problems.length > 0) return Promise.reject(new ConfigError('GlooEngine.allReduce', problems));
    return this.run('allReduce', async (native) => {
      if (buffer.length > 0) await native.allReduce(buffer, OP_CODES[op]);
      return buffer;
    });
  }

  broadcast<T extends FloatArray | Uint8Array>(buffer: T, root = 0): Promise<T> {
    const problems: string[] = [];
    if (!(buffer instanceof Float32Array || buffer instanceof Float64Array || buffer instanceof Uint8Array)) {
      problems.push(`buffer must be a Float32Array, Float64Array or Uint8Array, got ${describe(buffer)}`);
    }
    if (!(Number.isInteger(root) && root >= 0 && root < this.worldSize)) problems.push(`root must be an integer rank in [0, ${this.worldSize}), got ${describe(root)}`);
    if (problems.length > 0) return Promise.reject(new ConfigError('GlooEngine.broadcast', problems));
    return this.run('broadcast', async (native) => {
      if (buffer.byteLength > 0) await native.broadcast(buffer, root);
      return buffer;
    });
  }

  barrier(): Promise<void> {
    return this.run('barrier', (native) => native.barrier());
  }

  /** Close every Gloo connection (peers still in a collective with this rank get `PEER_LOST`). Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.chain.catch(() => undefined);
    this.native?.close();
    this.failure ??= new DistError('ABORTED', `GlooEngine: rank ${this.rank}: the engine was destroyed`);
  }

  /** Run `body` after every earlier operation, under the collective deadline; a failure aborts the engine. */
  private run<T>(name: string, body: (native: NativeGlooGroup) => Promise<T>): Promise<T> {
    const task = async (): Promise<T> => {
      this.sequence += 1;
      const where = `GlooEngine.${name} #${this.sequence}: rank ${this.rank}`;
      if (this.failure !== undefined) {
        throw new DistError('ABORTED', `${where}: the engine failed earlier: ${this.failure.message}`, { cause: this.failure, peer: this.failure.peer });
      }
      if (this.native === undefined) return body(nullGroup);
      try {
        return await withDeadline(body(this.native), this.config.collectiveTimeoutMs + NATIVE_GRACE_MS, where, 'TIMEOUT');
      } catch (error) {
        this.failure = asDistError(error, where, 'GLOO');
        this.native.close();
        throw this.failure;
      }
    };
    const result = this.chain.then(task, task);
    this.chain = result.catch(() => undefined);
    return result;
  }
}

/** A one-rank group: every collective is the identity. */
const nullGroup: NativeGlooGroup = {
  connect: () => Promise.resolve(),
  allReduce: () => Promise.resolve(),
  broadcast: () => Promise.resolve(),
  barrier: () => Promise.resolve(),
  close: () => undefined,
};

function asDistError(error: unknown, where: string, fallbackCode: string): DistError {
  if (error instanceof DistError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return new DistError(typeof code === 'string' ? code : fallbackCode, `${where}: ${message}`, { cause: error });
}

/** `promise`, or a DistError(code) after `ms` (the native work cannot be cancelled; the engine is closed instead). */
function withDeadline<T>(promise: Promise<T>, ms: number, where: string, code: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DistError(code, `${where}: no answer from Gloo within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
