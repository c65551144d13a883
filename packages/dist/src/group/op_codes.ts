import type { ReduceOp } from './reduce_op';

/** Op codes carried by every frame, so that two ranks running different collectives fail with DESYNC. */
export const OpCode = {
  allReduceStar: 1,
  allReduceRing: 2,
  broadcastStar: 3,
  broadcastChain: 4,
  allGather: 5,
  barrier: 6,
  reduceScatter: 7,
  allGatherObject: 8,
  broadcastObject: 9,
  hello: 0xf000,
  abort: 0xf001,
  bye: 0xf002,
  probe: 0xf003,
  probeReply: 0xf004,
} as const;

const reduceIndex: Record<ReduceOp, number> = { sum: 0, mean: 1, max: 2, min: 3 };

/** Fold the reduce op, the element size and (for broadcasts) the root into the op code. */
export function withDetails(base: number, details: { reduce?: ReduceOp; elementBytes?: number; root?: number }): number {
  return (
    base |
    ((details.reduce === undefined ? 0 : reduceIndex[details.reduce] + 1) << 4) |
    ((details.elementBytes ?? 0) << 7) |
    ((details.root ?? 0) << 16)
  );
}

export function opName(op: number): string {
  const base = op & 0xf;
  const entry = Object.entries(OpCode).find(([, value]) => value === (op >= 0xf000 ? op : base));
  return `${entry?.[0] ?? 'unknown'}(0x${op.toString(16)})`;
}
