// BatchMatMul and _FusedMatMul over OpenBLAS sgemm: every transpose case, batch dims broadcast as in NumPy
// ([1, ...] against [n, ...] and any other broadcastable pair), fused bias and activation as tfjs defines them.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues, runNativeKernel, sizeOf, stridesOf, type NativeKernel, type NativeKernelArgs } from './kernel_utils';

/** Codes of native/kernels.h `Activation`. */
const activationCodes: Readonly<Record<string, number>> = {
  linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5,
};

interface MatMulResult {
  readonly out: tf.TensorInfo;
  readonly values: Float32Array;
  /** Columns of the product (its last dim). */
  readonly n: number;
}

/** The product of a and b, or null when not float32. */
function nativeMatMul(backend: NativeBackend, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean,
  transposeB: boolean): MatMulResult | null {
  const aValues = floatValues(backend, a);
  const bValues = floatValues(backend, b);
  if (aValues === null || bValues === null || a.shape.length < 2 || b.shape.length < 2) return null;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const aRows = a.shape[aRank - 2] as number;
  const aCols = a.shape[aRank - 1] as number;
  const bRows = b.shape[bRank - 2] as number;
  const bCols = b.shape[bRank - 1] as number;
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const kB = transposeB ? bCols : bRows;
  const n = transposeB ? bRows : bCols;
  if (k !== kB) {
    throw new Error(`Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ` +
      `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const aBatchShape = a.shape.slice(0, -2);
  const bBatchShape = b.shape.slice(0, -2);
  const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(aBatchShape, bBatchShape);
  const batch = sizeOf(outBatchShape);
  const aOffsets = new Float64Array(batch);
  const bOffsets = new Float64Array(batch);
  const aMatrix = aRows * aCols;
  const bMatrix = bRows * bCols;
  if (sizeOf(aBatchShape) === batch && sizeOf(bBatchShape) === batch) {
    for (let i = 0; i < batch; i++) {
      aOffsets[i] = i * aMatrix;
      bOffsets[i] = i * bMatrix;
    }
  } else {
    // Unravel each output batch index and map it onto a's and b's batch dims (aligned right, size-1 dims fixed).
    const outStrides = stridesOf(outBatchShape);
    const aStrides = stridesOf(aBatchShape);
    const bStrides = stridesOf(bBatchShape);
    const rank = outBatchShape.length;
    for (let i = 0; i < batch; i++) {
      let aIndex = 0;
      let bIndex = 0;
      let rest = i;
      for (let d = 0; d < rank; d++) {
        const coordinate = Math.floor(rest / (outStrides[d] as number));
        rest -= coordinate * (outStrides[d] as number);
        const aDim = d - (rank - aBatchShape.length);
        const bDim = d - (rank - bBatchShape.length);
        if (aDim >= 0 && aBatchShape[aDim] !== 1) aIndex += coordinate * (aStrides[aDim] as number);
        if (bDim >= 0 && bBatchShape[bDim] !== 1) bIndex += coordinate * (bStrides[bDim] as number);
      }
      aOffsets[i] = aIndex * aMatrix;
      bOffsets[i] = bIndex * bMatrix;
    }
  }
  const values = backend.allocate(batch * m * n);
  backend.addon.gemm(aValues, bValues, values, batch, m, n, k, transposeA, transposeB, aOffsets, bOffsets);
  return { out: backend.makeOwnedTensorInfo([...outBatchShape, m, n], values), values, n };
}

export const batchMatMulKernel: NativeKernel = {
  kernelName: 'BatchMatMul',
  run: ({ inputs, backend, attrs }) => {
    const { a, b } = inputs;
    if (a === undefined || b === undefined) return null;
    return nativeMatMul(backend, a, b, attrs['transposeA'] === true, attrs['transposeB'] === true)?.out ?? null;
  },
};

/** True when `bias` adds one value per output column (shape [n], [1, n], [1, 1, n], ...). */
function isColumnBias(bias: tf.TensorInfo, n: number, outRank: number): boolean {
  const shape = bias.shape;
  if (shape.length > outRank || sizeOf(shape) !== n) return false;
  return shape.length === 0 ? n === 1 : shape[shape.length - 1] === n;
}

export const fusedMatMulKernel: NativeKernel = {
  kernelName: '_FusedMatMul',
  run: (args: NativeKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias, preluActivationWeights } = inputs;
    if (a === undefined || b === undefined) return null;
    const product = nativeMatMul(backend, a, b, attrs['transposeA'] === true, attrs['transposeB'] === true);
    if (product === null) return null;
    const activation = (attrs['activation'] as string | undefined) ?? 'linear';
    const code = activationCodes[activation];
    const biasValues = bias === undefined ? null : floatValues(backend, bias);
    const nativeBias = bias === undefined || (biasValues !== null && isColumnBias(bias, product.n, product.out.shape.length));
    if (code !== undefined && nativeBias) {
      if (biasValues !== null || code !== 0) {
        const rows = product.n === 0 ? 0 : product.values.length / product.n;
        backend.addon.biasActivation(product.values, rows, product.n, biasValues, code,
          (attrs['leakyreluAlpha'] as number | undefined) ?? 0.2);
      }
      return product.out;
    }
    // Other bias shapes and prelu: the product stays native, the rest runs as separate kernels.
    let current = product.out;
    if (bias !== undefined) {
      const added = runNativeKernel('Add', { inputs: { a: current, b: bias }, backend, attrs: {} });
      backend.disposeIntermediateTensorInfo(current);
      current = added;
    }
    const activated = applyActivation(backend, current, activation, preluActivationWeights, attrs);
    if (activated !== current) backend.disposeIntermediateTensorInfo(current);
    return activated;
  },
};

function applyActivation(backend: NativeBackend, x: tf.TensorInfo, activation: string,
  preluWeights: tf.TensorInfo | undefined, attrs: tf.NamedAttrMap): tf.TensorInfo {
  switch (activation) {
    case 'linear': return x;
    case 'relu': return runNativeKernel('Relu', { inputs: { x }, backend, attrs: {} });
    case 'relu6': return runNativeKernel('Relu6', { inputs: { x }, backend, attrs: {} });
    case 'elu': return runNativeKernel('Elu', { inputs: { x }, backend, attrs: {} });
    case 'sigmoid': return runNativeKernel('Sigmoid', { inputs: { x }, backend, attrs: {} });
    case 'leakyrelu':
      return runNativeKernel('LeakyRelu', { inputs: { x }, backend, attrs: { alpha: attrs['leakyreluAlpha'] ?? 0.2 } });
    case 'prelu':
      if (preluWeights === undefined) throw new Error('_FusedMatMul: prelu activation needs preluActivationWeights');
      return runNativeKernel('Prelu', { inputs: { x, alpha: preluWeights }, backend, attrs: {} });
    default:
      throw new Error(`Activation ${activation} has not been implemented for the native backend.`);
  }
}
