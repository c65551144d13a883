// Loads the optional Gloo addon (packages/dist/build/Release/rlhfjs_gloo.node) once, if the install step built it.
import * as path from 'node:path';

/** What the store bridge receives from C++ for each gloo::rendezvous::Store call. */
export interface GlooStoreRequest {
  readonly op: 'set' | 'get' | 'wait';
  readonly key: string;
  readonly value: Buffer;
  readonly keys: readonly string[];
  readonly timeoutMs: number;
}

export type GlooStoreFunction = (request: GlooStoreRequest, done: (error: string | null, value?: Buffer) => void) => void;

/** The native GlooGroup class (native/gloo_group.h). Promises reject with an Error carrying `code`. */
export interface NativeGlooGroup {
  /** Rendezvous through `store` and connect every pair, under `connectTimeoutMs`. */
  connect(store: GlooStoreFunction, connectTimeoutMs: number): Promise<void>;
  /** op: 0 sum, 1 mean, 2 max, 3 min. */
  allReduce(buffer: Float32Array | Float64Array, op: number): Promise<void>;
  broadcast(buffer: Float32Array | Float64Array | Uint8Array, root: number): Promise<void>;
  barrier(): Promise<void>;
  close(): void;
}

interface GlooAddon {
  GlooGroup: new (rank: number, worldSize: number, hostname: string, timeoutMs: number, channels?: number) => NativeGlooGroup;
}

/** build/ sits two levels above both src/engine/ and dist/engine/. */
export const glooAddonPath = path.resolve(__dirname, '..', '..', 'build', 'Release', 'rlhfjs_gloo.node');

let loaded: { addon: GlooAddon | null; error: string | null } | undefined;

function load(): { addon: GlooAddon | null; error: string | null } {
  if (loaded === undefined) {
    try {
      loaded = { addon: require(glooAddonPath) as GlooAddon, error: null };
    } catch (error) {
      loaded = { addon: null, error: error instanceof Error ? error.message : String(error) };
    }
  }
  return loaded;
}

/** The addon, or null when it was not built (then collectives use the TCP ring). */
export function loadGlooAddon(): GlooAddon | null {
  return load().addon;
}

/** True when the Gloo engine was built at install and loads here. */
export function isGlooAvailable(): boolean {
  return load().addon !== null;
}

/** Why the Gloo engine is unavailable, or null when it is available. */
export function glooUnavailableReason(): string | null {
  return load().error;
}
