import * as tf from '@tensorflow/tfjs';
import { sequenceLogProbs } from '../scoring/sequence_log_probs';
import { disableGradientCheckpointing, enableGradientCheckpointing, isGradientCheckpointingEnabled } from './gradient_checkpointing';
import { createCausalLM } from './model_factory';

describe('gradient checkpointing', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['gpt2', 'llama'] as const)('%s: same loss and gradients as without it, fewer bytes held after forward', (modelType) => {
    const model = createCausalLM({ modelType, vocabSize: 40, hiddenSize: 32, numLayers: 3, numHeads: 4, numKeyValueHeads: modelType === 'llama' ? 2 : undefined, maxPositions: 32 }, { seed: 1 });
    const ids = tf.tensor2d([[1, 5, 9, 3, 7, 2, 8, 4], [0, 0, 6, 2, 9, 1, 3, 5]], [2, 8], 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1]], [2, 8], 'int32');
    const variables = [...model.trainableParameters().values()];
    const measure = () => {
      let heldAfterForward = 0;
      const before = tf.memory().numBytes;
      const { value, grads } = tf.variableGrads(() => {
        const loss = tf.neg(tf.mean(sequenceLogProbs(model, { inputIds: ids, attentionMask: mask }))) as tf.Scalar;
        heldAfterForward = tf.memory().numBytes - before;
        return loss;
      }, variables);
      const result = { loss: value.dataSync()[0] as number, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync().slice()])), heldAfterForward };
      tf.dispose([value, ...Object.values(grads)]);
      return result;
    };
    const plain = measure();
    enableGradientCheckpointing(model);
    const tensorsBefore = tf.memory().numTensors;
    const checkpointed = measure();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    disableGradientCheckpointing(model);
    expect(Math.abs(checkpointed.loss - plain.loss)).toBeLessThan(1e-6);
    for (const [name, gradient] of Object.entries(plain.grads)) {
      const other = checkpointed.grads[name] as Float32Array;
      let worst = 0;
      gradient.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (other[i] as number)))));
      expect(worst).toBeLessThan(1e-5);
    }
    expect(checkpointed.heldAfterForward).toBeLessThan(plain.heldAfterForward);
    console.log(`[gradient checkpointing] ${modelType}: bytes held after forward ${plain.heldAfterForward} → ${checkpointed.heldAfterForward}`);
    tf.dispose([ids, mask]);
    model.dispose();
  });

  it('the returned undo puts back the block function the model had; enabling twice is a no-op', () => {
    const model = createCausalLM({ modelType: 'gpt2', vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 8 }, { seed: 1 });
    expect(isGradientCheckpointingEnabled(model)).toBe(false);
    const undo = enableGradientCheckpointing(model);
    const installed = model.blockFunction;
    expect(isGradientCheckpointingEnabled(model)).toBe(true);
    const undoSecond = enableGradientCheckpointing(model); // e.g. a trainer given a model the caller already checkpointed
    expect(model.blockFunction).toBe(installed);
    undoSecond();
    expect(isGradientCheckpointingEnabled(model)).toBe(true); // the second trainer leaves the caller's setting alone
    undo();
    expect(model.blockFunction).toBeUndefined();
    expect(isGradientCheckpointingEnabled(model)).toBe(false);
    // an undo after someone else replaced the block function leaves theirs in place
    const undoAgain = enableGradientCheckpointing(model);
    const custom: typeof model.blockFunction = (source, layer, x, context) => (installed as NonNullable<typeof installed>)(source, layer, x, context);
    model.blockFunction = custom;
    undoAgain();
    expect(model.blockFunction).toBe(custom);
    model.dispose();
  });

  it('a forward that builds a KV cache keeps real keys/values (and the same cached decoding) with checkpointing on', () => {
    const model = createCausalLM({ modelType: 'llama', vocabSize: 30, hiddenSize: 16, numLayers: 2, numHeads: 4, numKeyValueHeads: 2, maxPositions: 16 }, { seed: 2 });
    const ids = tf.tensor2d([[3, 7, 1, 9]], [1, 4], 'int32');
    const next = tf.tensor2d([[5]], [1, 1], 'int32');
    const decode = () => {
      const prefill = model.forward({ inputIds: ids, useCache: true });
      const step = model.forward({ inputIds: next, useCache: true, cache: prefill.cache ?? undefined });
      const result = { keyShape: prefill.cache?.keys[0]?.shape, logits: (step.logits as tf.Tensor).dataSync().slice() };
      const held: Array<tf.Tensor | null> = [prefill.logits, prefill.hiddenStates, ...(prefill.cache?.keys ?? []), ...(prefill.cache?.values ?? []), step.logits, step.hiddenStates, ...(step.cache?.keys ?? []), ...(step.cache?.values ?? [])];
      tf.dispose(held.filter((tensor): tensor is tf.Tensor => tensor !== null));
      return result;
    };
    const plain = decode();
    const undo = enableGradientCheckpointing(model);
    const checkpointed = decode();
    undo();
    expect(checkpointed.keyShape).toEqual([1, 2, 4, 4]);
    expect(checkpointed.keyShape).toEqual(plain.keyShape);
    let worst = 0;
    plain.logits.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (checkpointed.logits[i] as number)))));
    expect(worst).toBeLessThan(1e-6);
    tf.dispose([ids, next]);
    model.dispose();
  });
});
