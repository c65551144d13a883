import * as tf from '@tensorflow/tfjs';
import { hasKernel } from '../backend/capabilities';
import { customOp } from './custom_op';

/**
 * Rows of `table` [V, D] for integer `ids` [N] → [N, D]. The gradient is a scatter-add into [V, D]; backends without
 * `UnsortedSegmentSum` (wasm) get it as one_hot(ids)ᵀ @ dy, a plain rank-2 product.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const lookup = customOp(([weights]) => {
    const vocabSize = (weights as tf.Tensor).shape[0] as number;
    return {
      value: tf.gather(weights as tf.Tensor, ids) as tf.Tensor2D, // [N, D]
      gradFunc: (dy: tf.Tensor) => {
        const g = dy as tf.Tensor2D; // [N, D]
        if (hasKernel('UnsortedSegmentSum')) return tf.unsortedSegmentSum(g, ids, vocabSize); // [V, D]
        const oneHotT = tf.transpose(tf.oneHot(ids, vocabSize).toFloat()) as tf.Tensor2D; // [V, N]
        return tf.matMul(oneHotT, g); // [V, D]
      },
    };
  });
  return lookup(table) as tf.Tensor2D;
}
