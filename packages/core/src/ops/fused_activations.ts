import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { customOp } from './custom_op';

// Fused activations (DESIGN.md, "Fast paths"): each is one custom op that saves only its inputs and computes its
// gradient in one pass, with a portable tfjs form and a native kernel when the backend registers one
// (@rlhfjs/native does). Inputs: GeluNew { x }, GeluNewGrad { x, dy }, SiluMul { gate, up },
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

/** GPT-2's `gelu_new`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with its exact derivative as the gradient. */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const native = x.dtype === 'float32' && nativeKernels(geluNewKernelName, geluNewGradKernelName);
  const op = customOp(([input], save) => {
    save([input as tf.Tensor]);
    const value = native
      ? (tf.engine().runKernel(geluNewKernelName, { x: input as tf.Tensor }, {}) as tf.Tensor)
      : tf.tidy(() => {
        const xs = input as tf.Tensor;
        const inner = tf.mul(tf.add(xs, tf.mul(tf.mul(tf.mul(xs, xs), xs), GELU_CUBIC)), SQRT_2_OVER_PI);
        return tf.mul(tf.mul(xs, 0.5), tf.add(tf.tanh(inner), 1));
      });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0] as tf.Tensor;
        if (native) return [tf.engine().runKernel(geluNewGradKernelName, { x: xs, dy }, {}) as tf.Tensor];
        return [tf.tidy(() => {
          // d/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(√(2/π)·(x + 0.044715·x³))
          const square = tf.mul(xs, xs);
          const t = tf.tanh(tf.mul(tf.mul(xs, tf.add(tf.mul(square, GELU_CUBIC), 1)), SQRT_2_OVER_PI));
          const slope = tf.mul(tf.sub(1, tf.square(t)), tf.mul(tf.add(tf.mul(square, 3 * GELU_CUBIC), 1), SQRT_2_OVER_PI));
          return tf.mul(dy, tf.mul(tf.add(tf.add(t, 1), tf.mul(xs, slope)), 0.5));
        })];
      },
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
  const op = customOp(([g, u], save) => {
    save([g as tf.Tensor, u as tf.Tensor]);
    const value = native
      ? (tf.engine().runKernel(siluMulKernelName, { gate: g as tf.Tensor, up: u as tf.Tensor }, {}) as tf.Tensor)
      : tf.tidy(() => tf.mul(tf.mul(g as tf.Tensor, tf.sigmoid(g as tf.Tensor)), u as tf.Tensor));
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [gs, us] = saved as [tf.Tensor, tf.Tensor];
        if (native) return tf.engine().runKernel(siluMulGradKernelName, { gate: gs, up: us, dy }, {}) as tf.Tensor[];
        return tf.tidy(() => {
          const sigma = tf.sigmoid(gs);
          const silu = tf.mul(gs, sigma);
          // d silu/dg = σ(g)·(1 + g·(1 − σ(g)))
          const dSilu = tf.mul(sigma, tf.add(tf.mul(gs, tf.sub(1, sigma)), 1));
          return [tf.mul(tf.mul(dy, us), dSilu), tf.mul(dy, silu)];
        });
      },
    };
  });
  return op(gate, up);
}
