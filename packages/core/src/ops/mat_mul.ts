import * as tf from '@tensorflow/tfjs';
import { backendCapabilities } from '../backend/capabilities';
import { ShapeError } from '../errors/errors';
import { customOp } from './custom_op';

// Plain rank-2 products with no transpose flags are the only fast matmul on wasm (DESIGN.md, performance notes).
// These ops express every product the models need in that form, with custom gradients that stay in it too.

/**
 * True for a variable that is not trained (a LoRA base weight, a frozen reference model): products with it get no
 * weight gradient and keep no activation for one. tf.customGrad computes every input's gradient eagerly and keeps
 * them all until the backward pass ends, so a frozen weight must not be an input of the custom op at all.
 */
export function isFrozenWeight(tensor: tf.Tensor): boolean {
  return tensor instanceof tf.Variable && !tensor.trainable;
}

/** a @ b for a [M, K], b [K, N] → [M, N]; gradients are plain rank-2 products as well. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.shape[1] !== b.shape[0]) {
    throw new ShapeError(`matMul2d: inner dimensions differ, a [${a.shape}] and b [${b.shape}]`);
  }
  if (isFrozenWeight(b)) {
    // Only dA = dY @ Bᵀ is needed: B is a variable (alive anyway), A is not saved.
    const frozenProduct = customOp(([x]) => ({
      value: tf.matMul(x as tf.Tensor2D, b), // [M, N]
      gradFunc: (dy: tf.Tensor) => [productWithTransposedB(dy as tf.Tensor2D, b)], // [M, N] @ [N, K] → [M, K]
    }));
    return frozenProduct(a) as tf.Tensor2D;
  }
  const product = customOp(([x, y], save) => {
    save([x as tf.Tensor, y as tf.Tensor]);
    return {
      value: tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), // [M, N]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [
          productWithTransposedB(dy as tf.Tensor2D, ys), // [M, N] @ [N, K] → [M, K]
          productWithTransposedA(xs, dy as tf.Tensor2D), // [K, M] @ [M, N] → [K, N]
        ];
      },
    };
  });
  return product(a, b) as tf.Tensor2D;
}

/**
 * a @ bᵀ for a [M, K], b [N, K] → [M, N] without copying bᵀ where the backend's GEMM reads operands transposed
 * (the tied LM head: hidden [B·T, D] @ embeddingᵀ, the embedding being [V, D]). Gradients: dA = dY @ B (plain)
 * and dB = dYᵀ @ A; a frozen b gets no gradient.
 */
export function matMul2dTransposedB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.shape[1] !== b.shape[1]) {
    throw new ShapeError(`matMul2dTransposedB: a [${a.shape}] and b [${b.shape}] must share their last dimension`);
  }
  if (isFrozenWeight(b)) {
    const frozenProduct = customOp(([x]) => ({
      value: productWithTransposedB(x as tf.Tensor2D, b), // [M, N]
      gradFunc: (dy: tf.Tensor) => [tf.matMul(dy as tf.Tensor2D, b)], // [M, N] @ [N, K] → [M, K]
    }));
    return frozenProduct(a) as tf.Tensor2D;
  }
  const product = customOp(([x, y], save) => {
    save([x as tf.Tensor, y as tf.Tensor]);
    return {
      value: productWithTransposedB(x as tf.Tensor2D, y as tf.Tensor2D), // [M, N]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [
          tf.matMul(dy as tf.Tensor2D, ys), // [M, N] @ [N, K] → [M, K]
          productWithTransposedA(dy as tf.Tensor2D, xs), // [N, M] @ [M, K] → [N, K]
        ];
      },
    };
  });
  return product(a, b) as tf.Tensor2D;
}

/** a @ bᵀ, a [M, K], b [N, K] → [M, N]: the GEMM's transpose flag where fast, else an explicit transpose. */
function productWithTransposedB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (backendCapabilities().fastBatchedMatMul) return tf.matMul(a, b, false, true);
  return tf.tidy(() => tf.matMul(a, tf.transpose(b))); // [K, N] copy: only plain products are fast here
}

/** aᵀ @ b, a [K, M], b [K, N] → [M, N]. */
function productWithTransposedA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (backendCapabilities().fastBatchedMatMul) return tf.matMul(a, b, true, false);
  return tf.tidy(() => tf.matMul(tf.transpose(a), b)); // [M, K] copy
}

/**
 * Batched a @ b (optionally transposed) for a [N, M, K] and b [N, K, P] (after the transposes) → [N, M, P].
 * On backends with fast batched matmuls this is `tf.matMul`; elsewhere each batch entry is a rank-2 product.
 */
export function batchMatMul(a: tf.Tensor3D, b: tf.Tensor3D, transposeA = false, transposeB = false): tf.Tensor3D {
  if (backendCapabilities().fastBatchedMatMul) return tf.matMul(a, b, transposeA, transposeB);
  const inner = transposeA ? a.shape[1] : a.shape[2];
  const innerB = transposeB ? b.shape[2] : b.shape[1];
  if (a.shape[0] !== b.shape[0] || inner !== innerB) {
    throw new ShapeError(
      `batchMatMul: shapes do not fit, a [${a.shape}] (transposeA=${transposeA}) and b [${b.shape}] (transposeB=${transposeB})`,
    );
  }
  const splitProduct = customOp(([x, y], save) => {
    save([x as tf.Tensor, y as tf.Tensor]);
    const value = perEntry(x as tf.Tensor3D, y as tf.Tensor3D, transposeA, transposeB); // [N, M, P]
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor3D, tf.Tensor3D];
        const g = dy as tf.Tensor3D; // [N, M, P]
        // d(a)/d(b) for op(a) @ op(b), written as plain products of (possibly transposed) entries.
        const da = transposeA ? perEntry(ys, g, transposeB, true) : perEntry(g, ys, false, !transposeB);
        const db = transposeB ? perEntry(g, xs, true, transposeA) : perEntry(xs, g, !transposeA, false);
        return [da, db];
      },
    };
  });
  return splitProduct(a, b) as tf.Tensor3D;
}

/** Stack of rank-2 products op(a[i]) @ op(b[i]), each transposed explicitly so the matmul itself is plain. */
function perEntry(a: tf.Tensor3D, b: tf.Tensor3D, transposeA: boolean, transposeB: boolean): tf.Tensor3D {
  return tf.tidy(() => {
    const as = tf.unstack(a) as tf.Tensor2D[];
    const bs = tf.unstack(b) as tf.Tensor2D[];
    const products = as.map((ai, i) => {
      const bi = bs[i] as tf.Tensor2D;
      return tf.matMul(transposeA ? tf.transpose(ai) : ai, transposeB ? tf.transpose(bi) : bi);
    });
    return tf.stack(products) as tf.Tensor3D;
  });
}
