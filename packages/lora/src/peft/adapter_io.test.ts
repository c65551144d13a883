import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError, createCausalLM, readSafetensors, writeSafetensors, type CausalLM } from '@rlhfjs/core';
import { activeAdapter, adapterConfig, applyLora, loraLayers, removeLora } from '../lora/lora_model';
import { loadAdapter, saveAdapter } from './adapter_io';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const IDS = [
  [1, 5, 9, 3],
  [4, 4, 8, 30],
];

function logits(model: CausalLM): Float32Array {
  return tf.tidy(() => model.forward({ inputIds: tf.tensor2d(IDS, undefined, 'int32') }).logits?.dataSync() as Float32Array);
}

describe('saveAdapter / loadAdapter', () => {
  let model: CausalLM;
  let directory: string;
  beforeEach(async () => {
    model = createCausalLM({ modelType: 'llama', vocabSize: 32, hiddenSize: 16, numLayers: 2, numHeads: 2, tieWordEmbeddings: false }, { seed: 2 });
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-io-'));
  });
  afterEach(async () => {
    model.dispose();
    await fs.rm(directory, { recursive: true, force: true });
  });

  it('round-trips an adapter bit-exactly, in PEFT layout', async () => {
    applyLora(model, { r: 3, alpha: 6, targetModules: 'all-linear', initialization: 'random', useRslora: true, seed: 7 });
    const adapted = logits(model);
    await saveAdapter(model, directory);
    const file = await readSafetensors(path.join(directory, 'adapter_model.safetensors'));
    expect(file.tensors.size).toBe(28);
    expect(file.tensors.get('base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight')?.shape).toEqual([3, 16]); // [r, in]
    expect(file.tensors.get('base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight')?.shape).toEqual([64, 3]); // [out, r]
    // The file holds the transpose of the in-memory A [in, r].
    const layer = loraLayers(model).get('model.layers.0.mlp.gate_proj');
    const inMemory = layer?.adapter('default')?.loraA.arraySync() as number[][];
    const stored = file.tensors.get('base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight')?.data as Float32Array;
    expect(stored[1 * 16 + 5]).toBe(inMemory[5]?.[1]);
    const config = JSON.parse(await fs.readFile(path.join(directory, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', r: 3, lora_alpha: 6, use_rslora: true, init_lora_weights: false, fan_in_fan_out: false, task_type: 'CAUSAL_LM' });
    expect(config.target_modules).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);

    removeLora(model);
    const base = logits(model);
    await loadAdapter(model, directory, { adapterName: 'restored' });
    expect(activeAdapter(model)).toBe('restored');
    expect(adapterConfig(model, 'restored').scaling).toBeCloseTo(6 / Math.sqrt(3), 12);
    expect(logits(model)).toEqual(adapted);
    expect(logits(model)).not.toEqual(base);
    expect(model.trainableParameters().size).toBe(0); // loaded for inference by default
    removeLora(model);
    await loadAdapter(model, directory, { trainable: true });
    expect(model.trainableParameters().size).toBe(28);
  });

  it('keeps a RegExp target as its source string and loads it back', async () => {
    applyLora(model, { r: 2, targetModules: /model\.layers\.1\.self_attn\.(q|v)_proj/, initialization: 'random' });
    const adapted = logits(model);
    await saveAdapter(model, directory);
    const config = JSON.parse(await fs.readFile(path.join(directory, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.target_modules).toBe('model\\.layers\\.1\\.self_attn\\.(q|v)_proj');
    removeLora(model);
    await loadAdapter(model, directory);
    expect(loraLayers(model).size).toBe(2);
    expect(logits(model)).toEqual(adapted);
  });

  async function savedAdapter(): Promise<Map<string, { data: Float32Array; shape: number[] }>> {
    applyLora(model, { r: 2, targetModules: ['q_proj'], initialization: 'random' });
    await saveAdapter(model, directory);
    removeLora(model);
    const file = await readSafetensors(path.join(directory, 'adapter_model.safetensors'));
    return new Map([...file.tensors].map(([name, entry]) => [name, { data: entry.data as Float32Array, shape: [...entry.shape] }]));
  }

  it('names the key and both shapes on a shape mismatch, and leaves the model untouched', async () => {
    const tensors = await savedAdapter();
    const key = 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight';
    tensors.set(key, { data: new Float32Array(17 * 2), shape: [17, 2] });
    await writeSafetensors(path.join(directory, 'adapter_model.safetensors'), tensors);
    const error = await loadAdapter(model, directory).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain(`"${key}" is [17,2]`);
    expect((error as Error).message).toContain('imply [16,2]');
    expect(loraLayers(model).size).toBe(0);
  });

  it('rejects missing and unexpected tensors', async () => {
    const tensors = await savedAdapter();
    tensors.delete('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    tensors.set('base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight', { data: new Float32Array(32), shape: [2, 16] });
    await writeSafetensors(path.join(directory, 'adapter_model.safetensors'), tensors);
    await expect(loadAdapter(model, directory)).rejects.toThrow(/missing tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight"[\s\S]*unexpected tensors[\s\S]*k_proj\.lora_A/);
  });

  it('validates adapter_config.json keys and types', async () => {
    await savedAdapter();
    const file = path.join(directory, 'adapter_config.json');
    const good = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    const write = (config: Record<string, unknown>) => fs.writeFile(file, JSON.stringify(config));
    await write({ ...good, r: '2', use_dora: true });
    await expect(loadAdapter(model, directory)).rejects.toThrow(/"r" must be a positive integer[\s\S]*use_dora/);
    await write({ ...good, target_modules: ['not_a_module'] });
    await expect(loadAdapter(model, directory)).rejects.toThrow(/match no linear module/);
    const { lora_alpha: _, ...withoutAlpha } = good;
    await write(withoutAlpha);
    await expect(loadAdapter(model, directory)).rejects.toThrow(/"lora_alpha" is missing/);
    await write({ ...good, peft_type: 'IA3' });
    await expect(loadAdapter(model, directory)).rejects.toThrow(CheckpointError);
    await write({ ...good, some_future_key: 1 }); // unknown keys are ignored, as PEFT does
    await expect(loadAdapter(model, directory)).resolves.toBeDefined();
    expect(loraLayers(model).size).toBe(2);
  });
});
