import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { initBackend } from '../../src/backend/init_backend';
import { loadCausalLM } from '../../src/model/model_factory';
import { sequenceLogProbs } from '../../src/scoring/sequence_log_probs';
import { describeIfNative } from './support/native_describe';

// The whole model on @rlhfjs/native against the cpu backend: logits and every gradient within 1e-4.
// CI builds the addon (the package installs OpenBLAS), so there a missing addon is a failure, not a skip.
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'models');

const describeNative = describeIfNative('native model test');

function run(modelDir: string) {
  return async () => {
    const model = await loadCausalLM(modelDir);
    const ids = tf.tensor2d([[3, 14, 15, 9, 26, 5, 35, 8], [0, 0, 0, 9, 23, 8, 46, 2]], [2, 8], 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 1]], [2, 8], 'int32');
    const output = model.forward({ inputIds: ids, attentionMask: mask });
    const logits = output.logits?.dataSync().slice() as Float32Array;
    tf.dispose([output.logits as tf.Tensor, output.hiddenStates]);
    const parameters = model.trainableParameters();
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(sequenceLogProbs(model, { inputIds: ids, attentionMask: mask }))) as tf.Scalar, [...parameters.values()]);
    const gradients = new Map([...parameters].map(([name, variable]) => [name, grads[variable.name]?.dataSync().slice() as Float32Array]));
    tf.dispose([value, ids, mask, ...Object.values(grads)]);
    model.dispose();
    return { logits, gradients };
  };
}

describeNative('CausalLM on the native backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['gpt2', 'llama', 'qwen2'])('%s: logits and gradients match the cpu backend within 1e-4', async (name) => {
    const modelDir = path.join(FIXTURES, name);
    await tf.setBackend('cpu');
    const reference = await run(modelDir)();
    await initBackend({ backend: 'native' });
    expect(tf.getBackend()).toBe('native');
    const native = await run(modelDir)();
    await tf.setBackend('cpu');
    const worst = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
    expect(worst(native.logits, reference.logits)).toBeLessThan(1e-4);
    for (const [parameter, gradient] of reference.gradients) {
      expect(worst(native.gradients.get(parameter) as Float32Array, gradient)).toBeLessThan(1e-4);
    }
  });
});
