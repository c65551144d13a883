import * as tf from '@tensorflow/tfjs';
import { backendCapabilities } from '../backend/capabilities';
import { ShapeError } from '../errors/errors';
import { customOp } from './custom_op';
import { isFrozenWeight, matMul2d } from './mat_mul';

/**
 * a @ b + bias for a [M, K], b [K, N], bias [N] → [M, N]. Where the backend's GEMM is fast with flags
 * (fastBatchedMatMul) the bias is added by the backend's fused matmul (`_FusedMatMul`: on `native` one in-place
 * pass over the product instead of a broadcasting Add into a fresh [M, N] buffer); gradients dA = dY bᵀ,
 * dB = aᵀ dY, dbias = Σ_rows dY. A frozen b with a frozen bias (a LoRA base layer) is no input of the op, so it
 * gets no gradient and keeps no activation. Elsewhere (wasm, or only one of b/bias frozen) it is the plain
 * matMul2d + add, unchanged.
 */
export function matMul2dBias(a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (a.shape[1] !== b.shape[0] || bias.rank !== 1 || bias.shape[0] !== b.shape[1]) {
    throw new ShapeError(`matMul2dBias: a [${a.shape}], b [${b.shape}] and bias [${bias.shape}] do not fit (need a [M, K], b [K, N], bias [N])`);
  }
  const frozenWeight = isFrozenWeight(b);
  const frozenBias = isFrozenWeight(bias);
  if (!backendCapabilities().fastBatchedMatMul || frozenWeight !== frozenBias || a.dtype !== 'float32') {
    return tf.tidy(() => tf.add(matMul2d(a, b), bias) as tf.Tensor2D); // [M, N]
  }
  if (frozenWeight) {
    const frozenProduct = customOp(([x]) => ({
      value: tf.fused.matMul({ a: x as tf.Tensor2D, b, bias }), // [M, N]
      gradFunc: (dy: tf.Tensor) => [tf.matMul(dy as tf.Tensor2D, b, false, true)], // [M, N] @ [N, K] → [M, K]
    }));
    return frozenProduct(a) as tf.Tensor2D;
  }
  const product = customOp(([x, y, z], save) => {
    save([x as tf.Tensor, y as tf.Tensor]);
    return {
      value: tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias: z as tf.Tensor1D }), // [M, N]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [
          tf.matMul(dy as tf.Tensor2D, ys, false, true), // [M, N] @ [N, K] → [M, K]
          tf.matMul(xs, dy as tf.Tensor2D, true, false), // [K, M] @ [M, N] → [K, N]
          tf.sum(dy, 0), // [N]
        ];
      },
    };
  });
  return product(a, b, bias) as tf.Tensor2D;
}
