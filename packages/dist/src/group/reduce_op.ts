/** How `allReduce` and `reduceScatter` combine the ranks' values. */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

export type FloatArray = Float32Array | Float64Array;

export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min'];

/**
 * target[offset + i] = combine(target[offset + i], incoming[i]). `mean` sums here; the division happens once,
 * after the sum is complete, so every rank divides the same bits.
 */
export function reduceInto(target: FloatArray, offset: number, incoming: FloatArray, op: ReduceOp): void {
  const count = incoming.length;
  switch (op) {
    case 'sum':
    case 'mean':
      for (let index = 0; index < count; index += 1) target[offset + index] = (target[offset + index] as number) + (incoming[index] as number);
      return;
    case 'max':
      for (let index = 0; index < count; index += 1) {
        const value = incoming[index] as number;
        if (value > (target[offset + index] as number) || Number.isNaN(value)) target[offset + index] = value;
      }
      return;
    case 'min':
      for (let index = 0; index < count; index += 1) {
        const value = incoming[index] as number;
        if (value < (target[offset + index] as number) || Number.isNaN(value)) target[offset + index] = value;
      }
      return;
    default: {
      const exhaustive: never = op;
      throw new Error(`reduceInto: unknown op ${String(exhaustive)}`);
    }
  }
}

/** Divide a finished sum by the world size (only for `mean`). */
export function finishReduce(target: FloatArray, start: number, end: number, op: ReduceOp, worldSize: number): void {
  if (op !== 'mean') return;
  for (let index = start; index < end; index += 1) target[index] = (target[index] as number) / worldSize;
}

/**
 * The balanced split of `length` elements into `worldSize` segments used by the ring and by `reduceScatter`:
 * the first `length % worldSize` segments get one element more. Returns [start, end).
 */
export function segmentBounds(length: number, worldSize: number, segment: number): [number, number] {
  const base = Math.floor(length / worldSize);
  const extra = length % worldSize;
  const start = segment * base + Math.min(segment, extra);
  return [start, start + base + (segment < extra ? 1 : 0)];
}
