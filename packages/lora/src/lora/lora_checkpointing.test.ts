import * as tf from '@tensorflow/tfjs';
import { createCausalLM, enableGradientCheckpointing, sequenceLogProbs, type CausalLM } from '@rlhfjs/core';
import { applyLora, loraLayers, setLoraTraining } from './lora_model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Loss and adapter gradients of one backward pass, with each LoRA layer's dropout draws starting from `state`. */
function lossAndGradients(model: CausalLM, state: number): { loss: number; gradients: Map<string, Float32Array> } {
  for (const layer of loraLayers(model).values()) layer.setRandomState(state);
  const ids = tf.tensor2d([[1, 5, 9, 3, 7, 2], [4, 4, 8, 30, 0, 11]], [2, 6], 'int32');
  const parameters = model.trainableParameters();
  const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(sequenceLogProbs(model, { inputIds: ids }))) as tf.Scalar, [...parameters.values()]);
  const byVariable = new Map([...parameters].map(([name, variable]) => [variable.name, name]));
  const gradients = new Map(Object.entries(grads).map(([variableName, gradient]) => [byVariable.get(variableName) as string, Float32Array.from(gradient.dataSync())]));
  const loss = value.dataSync()[0] as number;
  tf.dispose([ids, value, ...Object.values(grads)]);
  return { loss, gradients };
}

describe('LoRA under gradient checkpointing', () => {
  it.each(['gpt2', 'llama'] as const)('%s: adapters with dropout get the same gradients (the recomputation replays the dropout masks) and the draws go on as without it', (modelType) => {
    const model = createCausalLM({ modelType, vocabSize: 32, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 16 }, { seed: 3 });
    applyLora(model, { r: 4, alpha: 8, dropout: 0.3, targetModules: 'all-linear', initialization: 'random', seed: 5 });
    setLoraTraining(model, true);
    const plain = lossAndGradients(model, 0);
    const statesAfterPlain = [...loraLayers(model).values()].map((layer) => layer.randomState());
    const undo = enableGradientCheckpointing(model);
    const before = tf.memory().numTensors;
    const checkpointed = lossAndGradients(model, 0);
    expect(tf.memory().numTensors).toBe(before);
    // one forward's worth of draws, as without checkpointing: the recomputation put the state back
    expect([...loraLayers(model).values()].map((layer) => layer.randomState())).toEqual(statesAfterPlain);
    undo();
    expect(checkpointed.loss).toBeCloseTo(plain.loss, 6);
    expect([...checkpointed.gradients.keys()].sort()).toEqual([...plain.gradients.keys()].sort());
    expect([...plain.gradients.keys()].every((name) => name.includes('.lora_'))).toBe(true);
    for (const [name, gradient] of plain.gradients) {
      const other = checkpointed.gradients.get(name) as Float32Array;
      let worst = 0;
      let size = 0;
      gradient.forEach((value, index) => {
        worst = Math.max(worst, Math.abs(value - (other[index] as number)));
        size = Math.max(size, Math.abs(value));
      });
      expect([name, size > 0]).toEqual([name, true]); // dropout and a non-zero B: every adapter gets a gradient
      expect([name, worst < 1e-5]).toEqual([name, true]);
    }
    // other masks (another state) give other gradients: the equality above is not dropout being off
    const other = lossAndGradients(model, 1000);
    expect(Math.abs(other.loss - plain.loss)).toBeGreaterThan(1e-6);
    model.dispose();
  });
});
