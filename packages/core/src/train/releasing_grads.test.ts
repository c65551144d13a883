import * as tf from '@tensorflow/tfjs';
import { createCausalLM } from '../model/model_factory';
import { tokenLogProbsFromLogits } from '../scoring/sequence_log_probs';
import { variableGradsReleasing } from './releasing_grads';

describe('variableGradsReleasing', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  function setup() {
    const model = createCausalLM({ modelType: 'llama', vocabSize: 64, hiddenSize: 32, numLayers: 2, numHeads: 4, numKeyValueHeads: 2, intermediateSize: 48, maxPositions: 64 }, { seed: 3 });
    const ids = tf.tensor2d([[1, 5, 9, 13, 2, 40, 7, 8], [3, 3, 63, 0, 11, 12, 50, 6]], [2, 8], 'int32');
    const loss = (): tf.Scalar => tf.tidy(() => tf.neg(tf.mean(tokenLogProbsFromLogits(model.forward({ inputIds: ids }).logits as tf.Tensor3D, ids))) as tf.Scalar);
    return { model, ids, loss, variables: [...model.trainableParameters().values()] };
  }

  it('gives exactly the gradients of tf.variableGrads for a whole model, without leaks', () => {
    const { model, ids, loss, variables } = setup();
    const before = tf.memory().numTensors;
    const releasing = variableGradsReleasing(loss, variables);
    const reference = tf.variableGrads(loss, variables);
    expect(releasing.value.dataSync()[0]).toBe(reference.value.dataSync()[0]);
    expect(Object.keys(releasing.grads).sort()).toEqual(Object.keys(reference.grads).sort());
    for (const [name, gradient] of Object.entries(reference.grads)) {
      expect(Array.from(releasing.grads[name]?.dataSync() ?? [])).toEqual(Array.from(gradient.dataSync()));
    }
    tf.dispose([releasing.value, reference.value, ...Object.values(releasing.grads), ...Object.values(reference.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(ids);
    model.dispose();
  });

  it('peaks lower than tf.variableGrads: activations and gradients are freed as the backward pass goes', async () => {
    const { model, ids, loss, variables } = setup();
    const peak = async (compute: () => { value: tf.Scalar; grads: tf.NamedTensorMap }): Promise<number> => (await tf.profile(() => {
      const { value, grads } = compute();
      tf.dispose([value, ...Object.values(grads)]);
    })).peakBytes;
    const releasingPeak = await peak(() => variableGradsReleasing(loss, variables));
    const referencePeak = await peak(() => tf.variableGrads(loss, variables));
    expect(releasingPeak).toBeLessThan(0.8 * referencePeak);
    tf.dispose(ids);
    model.dispose();
  });

  it('leaves variables it cannot reach out of the result and rejects a non-scalar loss', () => {
    const used = tf.variable(tf.tensor1d([1, 2, 3]));
    const unused = tf.variable(tf.tensor1d([4]));
    const { value, grads } = variableGradsReleasing(() => tf.sum(tf.square(used)) as tf.Scalar, [used, unused]);
    expect(Array.from(grads[used.name]?.dataSync() ?? [])).toEqual([2, 4, 6]);
    expect(grads[unused.name]).toBeUndefined();
    tf.dispose([value, ...Object.values(grads)]);
    const before = tf.memory().numTensors;
    expect(() => variableGradsReleasing(() => tf.square(used) as unknown as tf.Scalar, [used])).toThrow(/scalar/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([used, unused]);
  });
});
