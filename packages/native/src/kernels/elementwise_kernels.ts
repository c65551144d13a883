// Elementwise kernels: binary ops with broadcasting, unary math, and Select, all float32 in C++.
import * as tf from '@tensorflow/tfjs';

import { broadcastStrides, floatValues, sizeOf, type NativeKernel } from './kernel_utils';

/** Codes of native/kernels.h `BinaryOp`. */
const binaryOps: ReadonlyArray<readonly [string, number]> = [
  ['Add', 0], ['Sub', 1], ['Multiply', 2], ['RealDiv', 3], ['Maximum', 4], ['Minimum', 5], ['SquaredDifference', 6],
];

/** Codes of native/kernels.h `UnaryOp`. */
const unaryOps: ReadonlyArray<readonly [string, number]> = [
  ['Exp', 0], ['Log', 1], ['Neg', 2], ['Sqrt', 3], ['Rsqrt', 4], ['Tanh', 5], ['Erf', 6], ['Square', 7], ['Relu', 8],
  ['Sigmoid', 9], ['Abs', 10], ['Reciprocal', 11], ['Log1p', 12],
];

const maximumRank = 8;

function binaryKernel(kernelName: string, op: number): NativeKernel {
  return {
    kernelName,
    run: ({ inputs, backend }) => {
      const { a, b } = inputs;
      const aValues = floatValues(backend, a);
      const bValues = floatValues(backend, b);
      if (a === undefined || b === undefined || aValues === null || bValues === null) return null;
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      if (outShape.length > maximumRank) return null;
      const out = backend.allocate(sizeOf(outShape));
      backend.addon.binary(op, aValues, broadcastStrides(a.shape, outShape), bValues, broadcastStrides(b.shape, outShape),
        out, Float64Array.from(outShape));
      return backend.makeOwnedTensorInfo(outShape, out);
    },
  };
}

function unaryKernel(kernelName: string, op: number): NativeKernel {
  return {
    kernelName,
    run: ({ inputs, backend }) => {
      const { x } = inputs;
      const xValues = floatValues(backend, x);
      if (x === undefined || xValues === null) return null;
      const out = backend.allocate(xValues.length);
      backend.addon.unary(op, xValues, out, 0);
      return backend.makeOwnedTensorInfo(x.shape.slice(), out);
    },
  };
}

const selectKernel: NativeKernel = {
  kernelName: 'Select',
  run: ({ inputs, backend }) => {
    const { condition, t, e } = inputs;
    const tValues = floatValues(backend, t);
    const eValues = floatValues(backend, e);
    if (condition === undefined || t === undefined || e === undefined || tValues === null || eValues === null) return null;
    const conditionValues = backend.data.get(condition.dataId).values;
    if (!(conditionValues instanceof Uint8Array) || !tf.util.arraysEqual(condition.shape, t.shape) ||
      !tf.util.arraysEqual(t.shape, e.shape)) {
      return null;
    }
    const out = backend.allocate(tValues.length);
    backend.addon.select(conditionValues, tValues, eValues, out);
    return backend.makeOwnedTensorInfo(t.shape.slice(), out);
  },
};

export const elementwiseKernels: readonly NativeKernel[] = [
  ...binaryOps.map(([name, op]) => binaryKernel(name, op)),
  ...unaryOps.map(([name, op]) => unaryKernel(name, op)),
  selectKernel,
];
