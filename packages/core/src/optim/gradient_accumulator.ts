import * as tf from '@tensorflow/tfjs';

import { ConfigError, ShapeError } from '../errors/errors';

/**
 * Sums gradient maps across the micro-batches of one optimizer step. It SUMS (no averaging): normalisation
 * belongs to `aggregateLoss` with global counts, which makes the sum of micro-batch gradients equal the gradient
 * of the whole step.
 *
 * Ownership: `add` copies what it needs and never disposes the caller's tensors; the sums are owned by the
 * accumulator until `take` hands them to the caller (who then disposes them); `dispose` frees sums not taken.
 * A name missing from some micro-batches is summed over the micro-batches that have it.
 */
export class GradientAccumulator {
  private sums = new Map<string, tf.Tensor>();
  private added = 0;

  /** Number of `add` calls since the last `take`. */
  get count(): number {
    return this.added;
  }

  add(grads: tf.NamedTensorMap): void {
    for (const [name, grad] of Object.entries(grads)) {
      const sum = this.sums.get(name);
      if (
        sum !== undefined &&
        !(sum.rank === grad.rank && sum.shape.every((size, index) => size === grad.shape[index]))
      ) {
        throw new ShapeError(
          `GradientAccumulator.add: gradient "${name}" has shape [${grad.shape.join(', ')}], ` +
            `earlier micro-batches had [${sum.shape.join(', ')}]`,
        );
      }
    }
    for (const [name, grad] of Object.entries(grads)) {
      const sum = this.sums.get(name);
      // clone shares the buffer but is a tensor of our own, unaffected when the caller disposes theirs.
      this.sums.set(name, sum === undefined ? tf.clone(grad) : tf.tidy(() => tf.add(sum, grad)));
      sum?.dispose();
    }
    this.added += 1;
  }

  /** The sums (owned by the caller from now on), in first-seen order; resets the accumulator. */
  take(): tf.NamedTensorMap {
    if (this.added === 0) {
      throw new ConfigError('GradientAccumulator.take', ['nothing was added since the last take']);
    }
    const result: tf.NamedTensorMap = {};
    for (const [name, sum] of this.sums) {
      result[name] = sum;
    }
    this.sums = new Map();
    this.added = 0;
    return result;
  }

  /** Frees the sums not taken. The accumulator can be used again afterwards. */
  dispose(): void {
    for (const sum of this.sums.values()) {
      sum.dispose();
    }
    this.sums.clear();
    this.added = 0;
  }
}
