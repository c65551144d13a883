import * as tf from '@tensorflow/tfjs';
import { backendCapabilities } from '../backend/capabilities';
import { customOp } from './custom_op';
import { isFrozenWeight } from './mat_mul';

/**
 * Rows of `table` [V, D] for integer `ids` [N] → [N, D]. The gradient is a scatter-add into [V, D]: through
 * `UnsortedSegmentSum` where the backend makes it fast, otherwise on the host (the cpu backend's kernel loops over
 * every segment and wasm has none; a host loop over N·D values is far cheaper than either).
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  // A frozen table (LoRA base, reference model) needs no [V, D] scatter-add gradient.
  if (isFrozenWeight(table)) return tf.gather(table, ids) as tf.Tensor2D; // [N, D]
  const lookup = customOp(([weights, indices], save) => {
    save([indices as tf.Tensor]);
    const [vocabSize, width] = (weights as tf.Tensor).shape as [number, number];
    return {
      value: tf.gather(weights as tf.Tensor, indices as tf.Tensor) as tf.Tensor2D, // [N, D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const savedIds = saved[0] as tf.Tensor1D;
        const zeroIds = tf.zerosLike(savedIds); // ids are integers: no gradient
        if (backendCapabilities().fastScatter) return [tf.unsortedSegmentSum(dy as tf.Tensor2D, savedIds, vocabSize), zeroIds]; // [V, D]
        const rows = savedIds.dataSync();
        const gradient = dy.dataSync();
        const sums = new Float32Array(vocabSize * width);
        for (let n = 0; n < rows.length; n++) {
          const target = (rows[n] as number) * width;
          const source = n * width;
          for (let d = 0; d < width; d++) sums[target + d] = (sums[target + d] as number) + (gradient[source + d] as number);
        }
        return [tf.tensor2d(sums, [vocabSize, width]), zeroIds]; // [V, D]
      },
    };
  });
  return lookup(table, ids) as tf.Tensor2D;
}
