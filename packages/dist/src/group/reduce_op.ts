import { SimdSum } from '../kernels/simd_sum';

/** How `allReduce` and `reduceScatter` combine the ranks' values. */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

export type FloatArray = Float32Array | Float64Array;

export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min'];

/**
 * target[offset + i] = combine(target[offset + i], incoming[i]). `mean` sums here; the division happens once,
 * after the sum is complete, so every rank divides the same bits. Float32 and Float64 go through separate loops so
 * that each loop sees one array type only (V8 compiles a monomorphic typed-array loop several times faster).
 * Sums of more than a few elements go through WebAssembly SIMD (`SimdSum`, same bits) where the runtime has it.
 */
export function reduceInto(target: FloatArray, offset: number, incoming: FloatArray, op: ReduceOp): void {
  if ((op === 'sum' || op === 'mean') && SimdSum.worthIt(incoming.length) && target.constructor === incoming.constructor) {
    const simd = SimdSum.for(incoming);
    if (simd !== undefined) {
      simd.add(target, offset, incoming);
      return;
    }
  }
  if (target instanceof Float32Array && incoming instanceof Float32Array) reduceFloat32(target, offset, incoming, op);
  else if (target instanceof Float64Array && incoming instanceof Float64Array) reduceFloat64(target, offset, incoming, op);
  else throw new Error(`reduceInto: target ${target.constructor.name} and incoming ${incoming.constructor.name} differ`);
}

function reduceFloat32(target: Float32Array, offset: number, incoming: Float32Array, op: ReduceOp): void {
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

function reduceFloat64(target: Float64Array, offset: number, incoming: Float64Array, op: ReduceOp): void {
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
  const simd = SimdSum.worthIt(end - start) ? SimdSum.for(target) : undefined;
  if (simd !== undefined) simd.divide(target, start, end, worldSize);
  else if (target instanceof Float32Array) divideFloat32(target, start, end, worldSize);
  else divideFloat64(target, start, end, worldSize);
}

function divideFloat32(target: Float32Array, start: number, end: number, worldSize: number): void {
  for (let index = start; index < end; index += 1) target[index] = (target[index] as number) / worldSize;
}

function divideFloat64(target: Float64Array, start: number, end: number, worldSize: number): void {
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
