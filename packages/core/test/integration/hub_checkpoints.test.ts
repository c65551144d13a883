import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCausalLM, loadCausalLMWithReport, saveCausalLM } from '../../src/model/model_factory';
import type { CausalLM } from '../../src/model/causal_lm';
import { maxDifferenceAtRealTokens, readJson, type ExpectedLogits } from './support/golden_logits';

// Fixtures: tools/golden/hub_checkpoints.py (checkpoints as transformers 5 saves them; independent PyTorch math).
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'hub');
const CASES = ['llama_default', 'llama_linear', 'llama_dynamic', 'llama3', 'yarn', 'qwen2_theta', 'qwen3'];
const MODELS = path.join(__dirname, '..', 'fixtures', 'models');

async function logitsOf(model: CausalLM, expected: ExpectedLogits): Promise<number[][][]> {
  const inputIds = tf.tensor2d(expected.inputIds, undefined, 'int32');
  const attentionMask = tf.tensor2d(expected.attentionMask, undefined, 'int32');
  const output = model.forward({ inputIds, attentionMask });
  const logits = (await output.logits?.array()) as number[][][];
  tf.dispose([inputIds, attentionMask, output.logits as tf.Tensor, output.hiddenStates]);
  return logits;
}

describe('checkpoints saved by transformers 5 (every rope type, Qwen3)', () => {
  let scratch: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-hub-'));
  });
  afterAll(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it.each(CASES)('%s: logits within 1e-4 of the reference, unpadded and left-padded rows; no leaks', async (name) => {
    const expected = await readJson<ExpectedLogits>(path.join(FIXTURES, name, 'expected.json'));
    const { model, unexpectedKeys } = await loadCausalLMWithReport(path.join(FIXTURES, name));
    expect(unexpectedKeys).toEqual([]);
    await logitsOf(model, expected); // first call may create lasting backend state
    const before = tf.memory().numTensors;
    const logits = await logitsOf(model, expected);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxDifferenceAtRealTokens(logits, expected)).toBeLessThan(1e-4);
    model.dispose();
  });

  it.each(CASES)('%s: save → reload round-trips (same logits, transformers 5 config.json)', async (name) => {
    const expected = await readJson<ExpectedLogits>(path.join(FIXTURES, name, 'expected.json'));
    const original = await readJson<Record<string, unknown>>(path.join(FIXTURES, name, 'config.json'));
    const model = await loadCausalLM(path.join(FIXTURES, name));
    const directory = path.join(scratch, name);
    await saveCausalLM(model, directory);
    const written = await readJson<Record<string, unknown>>(path.join(directory, 'config.json'));
    expect(written['rope_parameters']).toEqual(original['rope_parameters']);
    expect(written['rope_theta']).toBeUndefined();
    expect(written['rope_scaling']).toBeUndefined();
    expect(written['dtype']).toBe('float32');
    const reloaded = await loadCausalLM(directory);
    expect(await logitsOf(reloaded, expected)).toEqual(await logitsOf(model, expected));
    model.dispose();
    reloaded.dispose();
  });

  it.each(['llama_linear', 'llama_dynamic', 'llama3', 'yarn'])('%s: the transformers 4.x layout (rope_theta + rope_scaling with "type") gives the same logits', async (name) => {
    const expected = await readJson<ExpectedLogits>(path.join(FIXTURES, name, 'expected.json'));
    const config = await readJson<Record<string, unknown>>(path.join(FIXTURES, name, 'config.json'));
    const { rope_theta: theta, rope_type: type, ...scaling } = config['rope_parameters'] as Record<string, unknown>;
    const { rope_parameters: _dropped, ...rest } = config;
    const directory = path.join(scratch, `${name}-legacy`);
    await fs.mkdir(directory, { recursive: true });
    await fs.writeFile(path.join(directory, 'config.json'), JSON.stringify({ ...rest, rope_theta: theta, rope_scaling: { type, ...scaling } }));
    await fs.copyFile(path.join(FIXTURES, name, 'model.safetensors'), path.join(directory, 'model.safetensors'));
    const model = await loadCausalLM(directory);
    expect(maxDifferenceAtRealTokens(await logitsOf(model, expected), expected)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('config.json declares the dtype actually written (a bf16 checkpoint saved in float32 says float32)', async () => {
    const model = await loadCausalLM(path.join(MODELS, 'llama_bf16'));
    expect(model.config.hfConfig['torch_dtype']).toBe('bfloat16');
    await saveCausalLM(model, path.join(scratch, 'f32'));
    const f32 = await readJson<Record<string, unknown>>(path.join(scratch, 'f32', 'config.json'));
    expect([f32['dtype'], f32['torch_dtype']]).toEqual(['float32', 'float32']);
    await saveCausalLM(model, path.join(scratch, 'bf16'), { dtype: 'BF16' });
    const bf16 = await readJson<Record<string, unknown>>(path.join(scratch, 'bf16', 'config.json'));
    expect([bf16['dtype'], bf16['torch_dtype']]).toEqual(['bfloat16', 'bfloat16']);
    // the older layout is written back in transformers 5's form
    expect(f32['rope_parameters']).toEqual({ factor: 2, rope_type: 'linear', rope_theta: 10000 });
    model.dispose();
  });
});
