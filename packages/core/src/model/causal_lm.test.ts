import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { batchMatMul, matMul2d } from '../ops/mat_mul';
import { createCausalLM } from './model_factory';

describe('CausalLM input checks', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const model = () => createCausalLM({ modelType: 'llama', vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 16 });

  it('rejects ids outside the vocabulary with a ShapeError naming both', () => {
    const m = model();
    const ids = tf.tensor2d([[1, 2, 99]], [1, 3], 'int32');
    expect(() => m.forward({ inputIds: ids })).toThrow(ShapeError);
    expect(() => m.forward({ inputIds: ids })).toThrow(/\[1, 99\].*16 entries/);
    ids.dispose();
    m.dispose();
  });

  it('rejects a mask of the wrong shape', () => {
    const m = model();
    const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const mask = tf.tensor2d([[1, 1]], [1, 2], 'int32');
    expect(() => m.forward({ inputIds: ids, attentionMask: mask })).toThrow(/attentionMask is \[1,2\], expected \[1, 3\]/);
    tf.dispose([ids, mask]);
    m.dispose();
  });

  it('gives the same logits and gradients with the split (wasm) matmul path as with tf.matMul', () => {
    const a = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 1) as tf.Tensor3D;
    const b = tf.randomNormal([3, 6, 5], 0, 1, 'float32', 2) as tf.Tensor3D;
    const direct = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, true))));
    const [da, db] = direct([a, b]);
    // force the split path through a fake capability: temporarily mark cpu as slow at batched matmuls
    const capabilities = require('../backend/capabilities') as typeof import('../backend/capabilities');
    capabilities.setBackendCapabilities('cpu', { fastBatchedMatMul: false, fastScatter: false });
    const split = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(batchMatMul(x as tf.Tensor3D, y as tf.Tensor3D, false, true))));
    const [sa, sb] = split([a, b]);
    capabilities.setBackendCapabilities('cpu', { fastBatchedMatMul: true, fastScatter: false });
    expect(tf.max(tf.abs(tf.sub(da as tf.Tensor, sa as tf.Tensor))).dataSync()[0]).toBeLessThan(1e-4);
    expect(tf.max(tf.abs(tf.sub(db as tf.Tensor, sb as tf.Tensor))).dataSync()[0]).toBeLessThan(1e-4);
    const m2 = tf.tensor2d([[1, 2], [3, 4]]);
    expect(Array.from(matMul2d(m2, m2).dataSync())).toEqual([7, 10, 15, 22]);
  });
});
