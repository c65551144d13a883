// Sum, Max, Min, Mean over any axes, and Softmax over the last axis. Axes that are not one contiguous run are
// first moved innermost with the native transpose.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues, sizeOf, type NativeKernel } from './kernel_utils';

/** Codes of native/kernels.h `ReduceOp`. */
const reduceCodes = { Sum: 0, Max: 1, Min: 2, Mean: 3 } as const;

function reduce(backend: NativeBackend, x: tf.TensorInfo, xValues: Float32Array, axisAttribute: unknown,
  keepDims: boolean, op: number): tf.TensorInfo {
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axisAttribute as number | number[], x.shape).slice().sort((p, q) => p - q);
  const unique = [...new Set(axes)];
  const reduced = new Set(unique);
  const keptShape = x.shape.filter((_, d) => !reduced.has(d));
  const outShape = keepDims ? x.shape.map((size, d) => (reduced.has(d) ? 1 : size)) : keptShape;
  const contiguous = unique.length === 0 || (unique[unique.length - 1] as number) - (unique[0] as number) === unique.length - 1;
  let source = xValues;
  let outer: number;
  let reduceSize: number;
  let inner: number;
  if (contiguous) {
    const first = unique[0] ?? rank;
    const last = unique[unique.length - 1] ?? rank - 1;
    outer = sizeOf(x.shape.slice(0, first));
    reduceSize = sizeOf(x.shape.slice(first, last + 1));
    inner = sizeOf(x.shape.slice(last + 1));
  } else {
    // [kept..., reduced...] so the reduced axes are innermost and contiguous.
    const perm = [...x.shape.keys()].filter((d) => !reduced.has(d)).concat(unique);
    source = backend.allocate(xValues.length);
    backend.addon.transpose(xValues, source, Float64Array.from(x.shape), Int32Array.from(perm));
    outer = sizeOf(keptShape);
    reduceSize = sizeOf(unique.map((d) => x.shape[d] as number));
    inner = 1;
  }
  const out = backend.allocate(outer * inner);
  backend.addon.reduce(op, source, out, outer, reduceSize, inner);
  if (source !== xValues) backend.pool.give(source);
  return backend.makeOwnedTensorInfo(outShape, out);
}

function reduceKernel(kernelName: keyof typeof reduceCodes, axisName: string): NativeKernel {
  return {
    kernelName,
    run: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      const xValues = floatValues(backend, x);
      if (x === undefined || xValues === null) return null;
      if (kernelName !== 'Sum' && kernelName !== 'Mean' && xValues.length === 0) return null;
      return reduce(backend, x, xValues, attrs[axisName], attrs['keepDims'] === true, reduceCodes[kernelName]);
    },
  };
}

const softmaxKernel: NativeKernel = {
  kernelName: 'Softmax',
  run: ({ inputs, backend, attrs }) => {
    const { logits } = inputs;
    const values = floatValues(backend, logits);
    if (logits === undefined || values === null || logits.shape.length === 0) return null;
    const rank = logits.shape.length;
    const dim = attrs['dim'] as number;
    if (dim !== -1 && dim !== rank - 1) return null;
    const cols = logits.shape[rank - 1] as number;
    const out = backend.allocate(values.length);
    backend.addon.softmax(values, out, cols === 0 ? 0 : values.length / cols, cols);
    return backend.makeOwnedTensorInfo(logits.shape.slice(), out);
  },
};

export const reductionKernels: readonly NativeKernel[] = [
  reduceKernel('Sum', 'axis'),
  reduceKernel('Max', 'reductionIndices'),
  reduceKernel('Min', 'axis'),
  reduceKernel('Mean', 'axis'),
  softmaxKernel,
];
