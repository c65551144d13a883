import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCausalLM, loadCausalLMWithReport, saveCausalLM } from '../../src/model/model_factory';
import { maxDifferenceAtRealTokens, readJson, type ExpectedLogits } from './support/golden_logits';

// Fixtures: tools/golden/models.py (an independent PyTorch implementation of each architecture).
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'models');
const CASES = ['gpt2', 'gpt2_prefixed', 'llama', 'llama_bf16', 'qwen2'];

function readExpected(name: string): Promise<ExpectedLogits> {
  return readJson<ExpectedLogits>(path.join(FIXTURES, name, 'expected.json'));
}

describe('loadCausalLM against PyTorch reference logits', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(CASES)('%s matches within 1e-4 (left-padded batch)', async (name) => {
    const expected = await readExpected(name);
    const { model, unexpectedKeys } = await loadCausalLMWithReport(path.join(FIXTURES, name));
    expect(unexpectedKeys).toEqual([]);
    const inputIds = tf.tensor2d(expected.inputIds, undefined, 'int32');
    const attentionMask = tf.tensor2d(expected.attentionMask, undefined, 'int32');
    const before = tf.memory().numTensors;
    const output = model.forward({ inputIds, attentionMask });
    const logits = (await output.logits?.array()) as number[][][];
    output.logits?.dispose();
    output.hiddenStates.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(maxDifferenceAtRealTokens(logits, expected)).toBeLessThan(1e-4);
    tf.dispose([inputIds, attentionMask]);
    model.dispose();
  });

  it('round trip: save then load gives identical logits and byte-identical safetensors', async () => {
    const expected = await readExpected('llama');
    const model = await loadCausalLM(path.join(FIXTURES, 'llama'));
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-model-'));
    const first = path.join(directory, 'first');
    const second = path.join(directory, 'second');
    await saveCausalLM(model, first);
    const reloaded = await loadCausalLM(first);
    await saveCausalLM(reloaded, second);
    const [bytesA, bytesB] = await Promise.all([fs.readFile(path.join(first, 'model.safetensors')), fs.readFile(path.join(second, 'model.safetensors'))]);
    expect(Buffer.compare(bytesA, bytesB)).toBe(0);
    const inputIds = tf.tensor2d(expected.inputIds, undefined, 'int32');
    const a = model.forward({ inputIds });
    const b = reloaded.forward({ inputIds });
    expect(Array.from(b.logits?.dataSync() ?? [])).toEqual(Array.from(a.logits?.dataSync() ?? []));
    tf.dispose([inputIds, a.logits as tf.Tensor, a.hiddenStates, b.logits as tf.Tensor, b.hiddenStates]);
    model.dispose();
    reloaded.dispose();
    await fs.rm(directory, { recursive: true, force: true });
  });
});

describe('model memory', () => {
  it('creating, loading and disposing a model leaves no tensors behind', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const model = await loadCausalLM(path.join(FIXTURES, 'llama'));
    expect(tf.memory().numTensors - before).toBe(model.namedParameters().size);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
