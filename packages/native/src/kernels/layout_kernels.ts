// Data movement: Transpose, GatherV2 (embedding lookup) and UnsortedSegmentSum (its gradient).
import type { NativeKernel } from './kernel_utils';
import { floatValues, intValues, sizeOf } from './kernel_utils';

const transposeKernel: NativeKernel = {
  kernelName: 'Transpose',
  run: ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    const xValues = floatValues(backend, x);
    const perm = attrs['perm'] as number[];
    if (x === undefined || xValues === null || x.shape.length === 0 || x.shape.length > 8) return null;
    const outShape = perm.map((d) => x.shape[d] as number);
    const out = backend.allocate(xValues.length);
    backend.addon.transpose(xValues, out, Float64Array.from(x.shape), Int32Array.from(perm));
    return backend.makeOwnedTensorInfo(outShape, out);
  },
};

const gatherKernel: NativeKernel = {
  kernelName: 'GatherV2',
  run: ({ inputs, backend, attrs }) => {
    const { x, indices } = inputs;
    const xValues = floatValues(backend, x);
    const indexValues = intValues(backend, indices);
    if (x === undefined || indices === undefined || xValues === null || indexValues === null) return null;
    if (((attrs['batchDims'] as number | undefined) ?? 0) !== 0 || x.shape.length === 0) return null;
    const rawAxis = (attrs['axis'] as number | undefined) ?? 0;
    const axis = rawAxis < 0 ? rawAxis + x.shape.length : rawAxis;
    const axisSize = x.shape[axis] as number;
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const out = backend.allocate(outer * indexValues.length * inner);
    const bad = backend.addon.gather(xValues, indexValues, out, outer, indexValues.length, inner, axisSize);
    if (bad >= 0) {
      backend.pool.give(out);
      throw new Error(`GatherV2: the index value ${indexValues[bad]} is not in [0, ${axisSize - 1}]`);
    }
    return backend.makeOwnedTensorInfo(outShape, out);
  },
};

const unsortedSegmentSumKernel: NativeKernel = {
  kernelName: 'UnsortedSegmentSum',
  run: ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs;
    const xValues = floatValues(backend, x);
    const ids = intValues(backend, segmentIds);
    const numSegments = attrs['numSegments'] as number;
    if (x === undefined || segmentIds === undefined || xValues === null || ids === null) return null;
    if (segmentIds.shape.length !== 1 || x.shape.length === 0 || x.shape[0] !== ids.length) return null;
    const inner = sizeOf(x.shape.slice(1));
    const out = backend.allocate(numSegments * inner);
    backend.addon.unsortedSegmentSum(xValues, ids, out, ids.length, inner, numSegments);
    return backend.makeOwnedTensorInfo([numSegments, ...x.shape.slice(1)], out);
  },
};

export const layoutKernels: readonly NativeKernel[] = [transposeKernel, gatherKernel, unsortedSegmentSumKernel];
