import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { customOp } from './custom_op';

/**
 * Kernels a backend may register for LayerNorm / RMSNorm over the last axis (@rlhfjs/native does).
 * Forward { x [N, D], weight [D], bias [D] (LayerNorm only) }, attrs { epsilon, rms } → [y [N, D], mean [N], rstd [N]]
 * (mean is 0 for RMSNorm). Backward { x, weight, mean, rstd, dy }, attrs { rms } → [dx [N, D], dWeight [D], dBias [D]].
 */
export const normKernelName = 'RlhfjsNorm';
export const normGradKernelName = 'RlhfjsNormGrad';

/** Whether the active backend runs the fused norm (else callers use the plain tfjs composition). */
export function hasFusedNorm(x: tf.Tensor): boolean {
  const backend = tf.getBackend();
  return x.dtype === 'float32' && tf.getKernel(normKernelName, backend) !== undefined && tf.getKernel(normGradKernelName, backend) !== undefined;
}

/**
 * LayerNorm (bias given) or RMSNorm (bias null) of x [..., D] as one custom op over the backend's fused kernels:
 * the forward keeps only x and two numbers per row; the backward computes dx, dWeight and dBias in one pass.
 */
export function fusedNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null, epsilon: number): tf.Tensor {
  const width = x.shape[x.rank - 1] as number;
  if (weight.rank !== 1 || weight.shape[0] !== width || (bias !== null && (bias.rank !== 1 || bias.shape[0] !== width))) {
    throw new ShapeError(`fusedNorm: x is [${x.shape}] but weight is [${weight.shape}]${bias === null ? '' : ` and bias [${bias.shape}]`}; expected [${width}]`);
  }
  const rms = bias === null;
  const rows = x.size / Math.max(width, 1);
  const op = customOp((inputs, save) => {
    const [xs, w] = inputs as [tf.Tensor, tf.Tensor];
    const flat = tf.reshape(xs, [rows, width]); // [N, D]
    const kernelInputs: tf.NamedTensorMap = rms ? { x: flat, weight: w } : { x: flat, weight: w, bias: inputs[2] as tf.Tensor };
    const [y, mean, rstd] = tf.engine().runKernel(normKernelName, kernelInputs, { epsilon, rms }) as tf.Tensor[];
    save([flat, w, mean as tf.Tensor, rstd as tf.Tensor]);
    tf.dispose([flat, mean as tf.Tensor, rstd as tf.Tensor]);
    const value = tf.reshape(y as tf.Tensor, xs.shape); // [..., D]
    (y as tf.Tensor).dispose();
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedX, savedWeight, savedMean, savedRstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const [dx, dWeight, dBias] = tf.tidy(() => tf.engine().runKernel(normGradKernelName, {
          x: savedX, weight: savedWeight, mean: savedMean, rstd: savedRstd, dy: tf.reshape(dy, [rows, width]), // [N, D]
        }, { rms }) as tf.Tensor[]);
        const dxShaped = tf.reshape(dx as tf.Tensor, dy.shape); // [..., D]
        (dx as tf.Tensor).dispose();
        if (rms) {
          (dBias as tf.Tensor).dispose();
          return [dxShaped, dWeight as tf.Tensor];
        }
        return [dxShaped, dWeight as tf.Tensor, dBias as tf.Tensor];
      },
    };
  });
  return rms ? op(x, weight) : op(x, weight, bias);
}
