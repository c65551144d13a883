import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { customOp } from './custom_op';

/**
 * Kernel names a backend may register to run this op natively (@rlhfjs/native does). Forward:
 * inputs { logits [R, V] float32, targets [R] int32 }, attrs { temperature } → [logProbs [R], logSumExp [R]].
 * Backward: inputs { logits, targets, logSumExp, dy [R] } → dLogits [R, V]. A target < 0 marks a row to skip.
 */
export const targetLogProbsKernelName = 'RlhfjsTargetLogProbs';
export const targetLogProbsGradKernelName = 'RlhfjsTargetLogProbsGrad';

/** Logits per chunk of the portable path: about 4M (16 MB) at a time, whatever the vocabulary. */
export const defaultChunkElements = 1 << 22;

/**
 * log softmax(logits[r] / τ)[targets[r]] for each row r of logits [R, V] → [R], and 0 where targets[r] < 0.
 * Fused: no one-hot and no second [R, V] tensor in the forward (only a log-sum-exp per row is kept for the
 * backward, besides the logits themselves); the backward writes dLogits = dy/τ · (onehot − softmax) straight into
 * one [R, V] buffer. Runs the backend's kernel when it registers one, else a token-chunked tfjs version.
 * Targets are validated on the host: every one must be < V (−1 skips a row). `chunkElements` bounds the logits
 * the portable path handles at once (whole rows, at least one).
 */
export function targetLogProbs(logits: tf.Tensor2D, targets: Int32Array, temperature = 1, chunkElements = defaultChunkElements): tf.Tensor1D {
  const [rows, vocab] = logits.shape;
  if (targets.length !== rows) {
    throw new ShapeError(`targetLogProbs: logits are [${logits.shape}] but there are ${targets.length} targets (one per row expected)`);
  }
  if (!(temperature > 0)) throw new ShapeError(`targetLogProbs: temperature must be > 0, got ${temperature}`);
  for (let r = 0; r < rows; r++) {
    const target = targets[r] as number;
    if (target >= vocab || target < -1) {
      throw new ShapeError(`targetLogProbs: target ${target} of row ${r} is outside the vocabulary [0, ${vocab}) (−1 skips a row)`);
    }
  }
  const native = tf.getKernel(targetLogProbsKernelName, tf.getBackend()) !== undefined &&
    tf.getKernel(targetLogProbsGradKernelName, tf.getBackend()) !== undefined && logits.dtype === 'float32';
  const op = customOp(([x], save) => {
    const targetTensor = tf.tensor1d(targets, 'int32'); // [R]
    const [logProbs, logSumExp] = native
      ? (tf.engine().runKernel(targetLogProbsKernelName, { logits: x as tf.Tensor, targets: targetTensor }, { temperature }) as tf.Tensor[])
      : portableForward(x as tf.Tensor2D, targets, temperature, chunkElements);
    save([x as tf.Tensor, logSumExp as tf.Tensor]);
    targetTensor.dispose();
    logSumExp?.dispose();
    return {
      value: logProbs as tf.Tensor, // [R]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedLogits, savedLogSumExp] = saved as [tf.Tensor2D, tf.Tensor1D];
        if (!native) return [portableBackward(savedLogits, targets, savedLogSumExp, dy as tf.Tensor1D, temperature, chunkElements)];
        return tf.tidy(() => {
          const targetTensor = tf.tensor1d(targets, 'int32');
          return [tf.engine().runKernel(targetLogProbsGradKernelName,
            { logits: savedLogits, targets: targetTensor, logSumExp: savedLogSumExp, dy }, { temperature }) as tf.Tensor]; // [R, V]
        });
      },
    };
  });
  return op(logits) as tf.Tensor1D;
}

/** Row ranges [start, start + count) of at most `chunkElements` logits each. */
function chunks(rows: number, vocab: number, chunkElements: number): Array<[number, number]> {
  const rowsPerChunk = Math.max(1, Math.floor(chunkElements / Math.max(vocab, 1)));
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < rows; start += rowsPerChunk) ranges.push([start, Math.min(rowsPerChunk, rows - start)]);
  return ranges;
}

/** Rows of logits [R, V] from `start`, `count` of them → [count, V] (the tensor itself when it is all rows). */
function rowsOf(logits: tf.Tensor2D, start: number, count: number): tf.Tensor2D {
  return count === logits.shape[0] ? logits : tf.slice(logits, [start, 0], [count, logits.shape[1]]); // [count, V]
}

interface TargetIndex {
  /** [C] flat indices r·V + target (target 0 for skipped rows) */
  flat: tf.Tensor1D;
  /** [C, 2] (row, target) pairs */
  pairs: tf.Tensor2D;
  /** [C] 1 for rows with a target, 0 for skipped rows */
  valid: tf.Tensor1D;
}

function targetIndex(targets: Int32Array, start: number, count: number, vocab: number): TargetIndex {
  const flat = new Int32Array(count);
  const pairs = new Int32Array(2 * count);
  const valid = new Float32Array(count);
  for (let r = 0; r < count; r++) {
    const target = Math.max(targets[start + r] as number, 0);
    flat[r] = r * vocab + target;
    pairs[2 * r] = r;
    pairs[2 * r + 1] = target;
    valid[r] = (targets[start + r] as number) >= 0 ? 1 : 0;
  }
  return { flat: tf.tensor1d(flat, 'int32'), pairs: tf.tensor2d(pairs, [count, 2], 'int32'), valid: tf.tensor1d(valid) };
}

function portableForward(logits: tf.Tensor2D, targets: Int32Array, temperature: number, chunkElements: number): [tf.Tensor1D, tf.Tensor1D] {
  return tf.tidy(() => {
    const [rows, vocab] = logits.shape;
    const logProbs: tf.Tensor1D[] = [];
    const logSumExps: tf.Tensor1D[] = [];
    for (const [start, count] of chunks(rows, vocab, chunkElements)) {
      const chunk = rowsOf(logits, start, count); // [C, V]
      const scaled = temperature === 1 ? chunk : tf.div(chunk, temperature); // [C, V]
      const logSumExp = tf.logSumExp(scaled, 1) as tf.Tensor1D; // [C]
      const { flat, valid } = targetIndex(targets, start, count, vocab);
      const targetLogits = tf.gather(tf.reshape(scaled, [count * vocab]), flat) as tf.Tensor1D; // [C]
      logProbs.push(tf.mul(tf.sub(targetLogits, logSumExp), valid) as tf.Tensor1D);
      logSumExps.push(logSumExp);
    }
    const join = (parts: tf.Tensor1D[]): tf.Tensor1D => (parts.length === 1 ? parts[0] as tf.Tensor1D : tf.concat(parts) as tf.Tensor1D); // [R]
    return [join(logProbs), join(logSumExps)];
  });
}

function portableBackward(logits: tf.Tensor2D, targets: Int32Array, logSumExp: tf.Tensor1D, dy: tf.Tensor1D, temperature: number, chunkElements: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [rows, vocab] = logits.shape;
    const parts: tf.Tensor2D[] = [];
    for (const [start, count] of chunks(rows, vocab, chunkElements)) {
      const chunk = rowsOf(logits, start, count); // [C, V]
      const scaled = temperature === 1 ? chunk : tf.div(chunk, temperature); // [C, V]
      const rowLogSumExp = tf.slice(logSumExp, [start], [count]); // [C]
      const { pairs, valid } = targetIndex(targets, start, count, vocab);
      const coefficient = tf.div(tf.mul(tf.slice(dy, [start], [count]), valid), temperature); // [C]: dy/τ, 0 when skipped
      const softmax = tf.exp(tf.sub(scaled, tf.expandDims(rowLogSumExp, 1))); // [C, V]
      const negative = tf.mul(softmax, tf.expandDims(tf.neg(coefficient), 1)); // [C, V]
      // + dy/τ at each row's target: a scatter of C values (a dense [C, V] add only inside this chunk)
      parts.push(tf.add(negative, tf.scatterND(pairs, coefficient, [count, vocab])) as tf.Tensor2D); // [C, V]
    }
    return parts.length === 1 ? parts[0] as tf.Tensor2D : tf.concat(parts, 0) as tf.Tensor2D; // [R, V]
  });
}
