import type { FloatArray, ReduceOp } from '../group/reduce_op';

/**
 * The collective seam of a process group: what moves the bytes once the ranks have met through a store. Two
 * implementations: `GlooEngine` (Gloo through N-API, when built) and the pure-JS TCP ring of `ProcessGroup`.
 * Operations run one at a time in call order; a failure rejects with `DistError` (PEER_LOST, TIMEOUT, ABORTED).
 */
export interface CollectiveEngine {
  /** Which engine this is, as reported in logs and benchmarks. */
  readonly name: 'gloo' | 'ring';
  readonly rank: number;
  readonly worldSize: number;
  /** Reduce `buffer` across ranks in place; every rank ends with the same values. */
  allReduce<T extends FloatArray>(buffer: T, op?: ReduceOp): Promise<T>;
  /** Copy `buffer` of rank `root` into `buffer` of every rank. */
  broadcast<T extends FloatArray | Uint8Array>(buffer: T, root?: number): Promise<T>;
  /** Wait until every rank has reached this barrier. */
  barrier(): Promise<void>;
  /** Close the engine's connections. Idempotent. */
  destroy(): Promise<void>;
}
