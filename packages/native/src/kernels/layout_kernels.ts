// Data movement: Transpose, Slice, SplitV, Concat, GatherV2 (embedding lookup) and UnsortedSegmentSum (its
// gradient). The cpu backend's Slice returns views for contiguous slices and walks others element by element;
// here every slice is a copy into a pooled buffer.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
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

function nativeSlice(backend: NativeBackend, x: tf.TensorInfo, xValues: Float32Array, begin: number[],
  size: number[]): tf.TensorInfo {
  const out = backend.allocate(sizeOf(size));
  backend.addon.slice(xValues, out, Float64Array.from(x.shape), Float64Array.from(begin), Float64Array.from(size));
  return backend.makeOwnedTensorInfo(size, out);
}

const sliceKernel: NativeKernel = {
  kernelName: 'Slice',
  run: ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    const xValues = floatValues(backend, x);
    if (x === undefined || xValues === null || x.shape.length > 8) return null;
    const [begin = [], size = []] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs['begin'] as number[], attrs['size'] as number[]);
    tf.slice_util.assertParamsValid(x as tf.Tensor, begin, size);
    return nativeSlice(backend, x, xValues, begin, size);
  },
};

const splitKernel = {
  kernelName: 'SplitV',
  run: ({ inputs, backend, attrs }: Parameters<NativeKernel['run']>[0]): tf.TensorInfo[] | null => {
    const { x } = inputs;
    const xValues = floatValues(backend, x);
    if (x === undefined || xValues === null || x.shape.length > 8) return null;
    const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs['numOrSizeSplits'] as number | number[], axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((piece) => {
      const size = x.shape.slice();
      size[axis] = piece;
      const result = nativeSlice(backend, x, xValues, begin.slice(), size);
      begin[axis] = (begin[axis] as number) + piece;
      return result;
    });
  },
} as unknown as NativeKernel;

const concatKernel: NativeKernel = {
  kernelName: 'Concat',
  run: ({ inputs, backend, attrs }) => {
    const tensors = Object.keys(inputs).map((key) => inputs[key] as tf.TensorInfo);
    const first = tensors[0];
    if (first === undefined || first.shape.length === 0) return null;
    const values = tensors.map((t) => floatValues(backend, t));
    if (values.some((v) => v === null)) return null;
    const axis = tf.util.parseAxisParam(attrs['axis'] as number, first.shape)[0] as number;
    tf.backend_util.assertParamsConsistent(tensors.map((t) => t.shape), axis);
    const outShape = tf.backend_util.computeOutShape(tensors.map((t) => t.shape), axis);
    const outer = sizeOf(first.shape.slice(0, axis));
    const outRow = sizeOf(outShape.slice(axis));
    const out = backend.allocate(sizeOf(outShape));
    let offset = 0;
    tensors.forEach((t, i) => {
      const row = sizeOf(t.shape.slice(axis));
      backend.addon.copy2d(values[i] as Float32Array, 0, row, out, offset, outRow, outer, row);
      offset += row;
    });
    return backend.makeOwnedTensorInfo(outShape, out);
  },
};

export const layoutKernels: readonly NativeKernel[] = [
  transposeKernel, sliceKernel, splitKernel, concatKernel, gatherKernel, unsortedSegmentSumKernel,
];
