/**
 * The key-value store the ranks meet through: our authenticated `StoreClient` (rank 0 serves it), or
 * `TorchStoreClient` when torchrun's agent already hosts a PyTorch c10d TCPStore on MASTER_PORT.
 */
export interface RendezvousStore {
  set(key: string, value: string): Promise<void>;
  add(key: string, delta: number): Promise<number>;
  /** The value of `key`, waiting up to `timeoutMs` for some rank to set it. */
  get(key: string, timeoutMs: number): Promise<string>;
  /** Wait until every key is set; on timeout a `DistError('RENDEZVOUS')` whose `missing` lists the keys not set. */
  wait(keys: readonly string[], timeoutMs: number): Promise<void>;
  /** This side's address of the connection to the store (the address the other ranks can reach us at). */
  readonly localAddress: string | undefined;
  close(): void;
}

/** Which store the ranks rendezvous through. */
export type StoreKind = 'rlhfjs' | 'torch';
