// PEFT compatibility against the independent PyTorch fixtures of tools/golden/lora_peft.py (see tools/golden/README.md).
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCausalLM, readSafetensors, type CausalLM } from '@rlhfjs/core';
import { adapterConfig, loadAdapter, mergeAdapters, saveAdapter, unmergeAdapters, withAdaptersDisabled } from '../../src/index';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'peft');

interface Expected {
  inputIds: number[][];
  attentionMask: number[][];
  logits: number[][][];
  scaling: number;
}

async function readFixture(name: string): Promise<{ directory: string; base: string; expected: Expected }> {
  const directory = path.join(FIXTURES, name);
  const base = path.resolve(directory, (await fs.readFile(path.join(directory, 'base.txt'), 'utf8')).trim());
  const expected = JSON.parse(await fs.readFile(path.join(directory, 'expected.json'), 'utf8')) as Expected;
  return { directory, base, expected };
}

function logitsOf(model: CausalLM, expected: Expected): Float32Array {
  return tf.tidy(() => {
    const inputIds = tf.tensor2d(expected.inputIds, undefined, 'int32');
    const attentionMask = tf.tensor2d(expected.attentionMask, undefined, 'int32');
    return model.forward({ inputIds, attentionMask }).logits?.dataSync() as Float32Array;
  });
}

/** Largest |a − expected| over real (mask 1) positions. */
function maxRealDifference(actual: Float32Array, expected: Expected): number {
  const vocab = expected.logits[0]?.[0]?.length ?? 0;
  let worst = 0;
  expected.logits.forEach((row, b) =>
    row.forEach((position, t) => {
      if (expected.attentionMask[b]?.[t] !== 1) return;
      const offset = (b * row.length + t) * vocab;
      position.forEach((value, v) => {
        worst = Math.max(worst, Math.abs((actual[offset + v] as number) - value));
      });
    }),
  );
  return worst;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(['llama_lora', 'llama_rslora', 'gpt2_lora'])('PEFT fixture %s', (name) => {
  let model: CausalLM;
  let fixture: Awaited<ReturnType<typeof readFixture>>;
  let temporary: string;

  beforeAll(async () => {
    fixture = await readFixture(name);
    model = await loadCausalLM(fixture.base);
    temporary = await fs.mkdtemp(path.join(os.tmpdir(), `lora-${name}-`));
  });

  afterAll(async () => {
    model.dispose();
    await fs.rm(temporary, { recursive: true, force: true });
  });

  it('reproduces the fixture logits unmerged and merged, and the base logits when disabled', async () => {
    const baseLogits = logitsOf(model, fixture.expected);
    expect(maxRealDifference(baseLogits, fixture.expected)).toBeGreaterThan(0.1); // the adapter matters
    await loadAdapter(model, fixture.directory);
    expect(adapterConfig(model, 'default').scaling).toBeCloseTo(fixture.expected.scaling, 6);
    expect(maxRealDifference(logitsOf(model, fixture.expected), fixture.expected)).toBeLessThan(1e-4);
    const disabled = withAdaptersDisabled(model, () => logitsOf(model, fixture.expected));
    expect(disabled).toEqual(baseLogits);
    mergeAdapters(model);
    expect(maxRealDifference(logitsOf(model, fixture.expected), fixture.expected)).toBeLessThan(1e-4);
    unmergeAdapters(model);
    expect(maxRealDifference(logitsOf(model, fixture.expected), fixture.expected)).toBeLessThan(1e-4);
  });

  it('saves the same tensor names, shapes, values and config keys as the fixture', async () => {
    await saveAdapter(model, temporary, { baseModelNameOrPath: null });
    const original = await readSafetensors(path.join(fixture.directory, 'adapter_model.safetensors'));
    const written = await readSafetensors(path.join(temporary, 'adapter_model.safetensors'));
    expect([...written.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    expect(written.metadata).toEqual({ format: 'pt' });
    for (const [key, entry] of original.tensors) {
      const copy = written.tensors.get(key);
      expect(copy?.shape).toEqual(entry.shape);
      expect(copy?.data).toEqual(entry.data);
    }
    const originalConfig = JSON.parse(await fs.readFile(path.join(fixture.directory, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const writtenConfig = JSON.parse(await fs.readFile(path.join(temporary, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(writtenConfig).sort()).toEqual(Object.keys(originalConfig).sort());
    expect({ ...writtenConfig, base_model_name_or_path: null }).toEqual({ ...originalConfig, base_model_name_or_path: null });
  });
});
