import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { customOp } from './custom_op';

// Fused activations (DESIGN.md, "Fast paths"): where the backend registers the kernels (@rlhfjs/native does), each
// is one custom op that saves only its inputs and computes its gradient in one pass; elsewhere the portable form is
// the plain tfjs composition, differentiated op by op. Inputs: GeluNew { x }, GeluNewGrad { x, dy }, SiluMul { gate, up },
// SiluMulGrad { gate, up, dy } → [dGate, dUp]. All float32, same shape.
export const geluNewKernelName = 'RlhfjsGeluNew';
export const geluNewGradKernelName = 'RlhfjsGeluNewGrad';
export const siluMulKernelName = 'RlhfjsSiluMul';
export const siluMulGradKernelName = 'RlhfjsSiluMulGrad';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

function nativeKernels(...names: string[]): boolean {
  const backend = tf.getBackend();
  return names.every((name) => tf.getKernel(name, backend) !== undefined);
}

function plainGeluNew(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), GELU_CUBIC)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** GPT-2's `gelu_new`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const native = x.dtype === 'float32' && nativeKernels(geluNewKernelName, geluNewGradKernelName);
  if (!native) return plainGeluNew(x); // differentiated op by op by tfjs (as before this op existed)
  const op = customOp(([input], save) => {
    save([input as tf.Tensor]);
    return {
      value: tf.engine().runKernel(geluNewKernelName, { x: input as tf.Tensor }, {}) as tf.Tensor,
      // d/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(√(2/π)·(x + 0.044715·x³))
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.engine().runKernel(geluNewGradKernelName, { x: saved[0] as tf.Tensor, dy }, {}) as tf.Tensor],
    };
  });
  return op(x);
}

/** SiLU(gate)·up = gate·σ(gate)·up (the Llama MLP), one op with both gradients. gate and up share one shape. */
export function siluMul(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  if (!tf.util.arraysEqual(gate.shape, up.shape)) {
    throw new ShapeError(`siluMul: gate [${gate.shape}] and up [${up.shape}] must have the same shape`);
  }
  const native = gate.dtype === 'float32' && up.dtype === 'float32' && nativeKernels(siluMulKernelName, siluMulGradKernelName);
  // Without the kernels: the plain composition, differentiated op by op by tfjs (as before this op existed).
  if (!native) return tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up));
  const op = customOp(([g, u], save) => {
    save([g as tf.Tensor, u as tf.Tensor]);
    return {
      value: tf.engine().runKernel(siluMulKernelName, { gate: g as tf.Tensor, up: u as tf.Tensor }, {}) as tf.Tensor,
      // d/dgate = dy·up·σ(g)·(1 + g·(1 − σ(g))), d/dup = dy·g·σ(g)
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(siluMulGradKernelName, { gate: saved[0] as tf.Tensor, up: saved[1] as tf.Tensor, dy }, {}) as tf.Tensor[],
    };
  });
  return op(gate, up);
}
