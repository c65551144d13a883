// DPO's output directory (issue 18 item 1, issue 17's loadable checkpoints): the reference log-prob cache belongs to
// one run — a directory holding another run's cache is refused, and --overwrite recomputes it instead of reusing
// stale numbers; checkpoint-N/ loads as a model.
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyLora, saveAdapter, withAdaptersDisabled } from '@rlhfjs/lora';
import { CheckpointError, ConfigError, Tokenizer, createCausalLM, loadCausalLM, modelStateDict, trainByteLevelBpe, type PlainPreferenceRecord } from '@rlhfjs/core';
import { DPOTrainer, REFERENCE_LOGPS_CACHE_FILE } from '../../src/index';

const records: PlainPreferenceRecord[] = Array.from({ length: 8 }, (_, i) => ({ kind: 'preference', style: 'plain', prompt: `What is ${i} + 1?`, chosen: ` ${i + 1}`, rejected: ` ${i + 3}` }));
const tokenizer = new Tokenizer(trainByteLevelBpe(records.flatMap((r) => [`${r.prompt}${r.chosen}`, `${r.prompt}${r.rejected}`]), { vocabSize: 270, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });
const options = { batchSize: 4, maxLength: 24, maxPromptLength: 16, progress: false as const, maxSteps: 1, precomputeReferenceLogProbs: true };

function tinyModel() {
  return createCausalLM({ modelType: 'gpt2', vocabSize: tokenizer.vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 32, eosTokenId: tokenizer.eosTokenId }, { seed: 4 });
}

describe('DPOTrainer output directory', () => {
  let outputDir = '';
  beforeAll(async () => {
    await tf.setBackend('cpu');
    outputDir = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-dpo-out-'));
  });
  afterAll(async () => {
    await fs.rm(outputDir, { recursive: true, force: true });
  });

  it("another run's reference cache is refused untouched; overwrite recomputes it; checkpoint-1 loads as the model", async () => {
    const cacheFile = path.join(outputDir, REFERENCE_LOGPS_CACHE_FILE);
    const stale = JSON.stringify({ train: { chosen: new Array(8).fill(0), rejected: new Array(8).fill(0) }, eval: { chosen: [], rejected: [] } });
    await fs.writeFile(cacheFile, stale);
    const model = tinyModel();
    const reference = tinyModel();
    const make = (overwriteOutputDir: boolean) => new DPOTrainer({ model, tokenizer, trainDataset: records, reference: { kind: 'frozen', model: reference } }, { ...options, outputDir, overwriteOutputDir, saveEvery: 1 });
    const refused = make(false);
    const error = await refused.train().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain(`holds another run (${REFERENCE_LOGPS_CACHE_FILE})`);
    expect(await fs.readFile(cacheFile, 'utf8')).toBe(stale);

    const trainer = make(true);
    const result = await trainer.train();
    // policy = reference at step 1 with fresh reference log-probs: the loss is ln 2 (with the stale zeros it is not)
    expect(Math.abs((result.history[0]?.['loss'] as number) - Math.log(2))).toBeLessThan(1e-5);
    const cache = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as { train: { chosen: number[] } };
    expect(cache.train.chosen.every((value) => value < 0)).toBe(true);
    const loaded = await loadCausalLM(path.join(outputDir, 'checkpoint-1'));
    const expected = modelStateDict(model);
    const actual = modelStateDict(loaded);
    for (const [name, entry] of expected) expect(actual.get(name)?.data).toEqual(entry.data);
    for (const disposable of [refused, trainer, loaded, model, reference]) disposable.dispose();
  }, 60_000);

  it('LoRA: checkpoints need saveModel (a ConfigError up front, not a failure at the first save); with it checkpoint-N/ holds the adapter', async () => {
    const model = tinyModel();
    applyLora(model, { r: 2, targetModules: ['c_attn'] });
    const reference = { kind: 'adapters-disabled' as const, withAdaptersDisabled: <T>(fn: () => T) => withAdaptersDisabled(model, fn) };
    const loraDir = path.join(outputDir, 'lora');
    const inputs = { model, tokenizer, trainDataset: records, reference };
    expect(() => new DPOTrainer(inputs, { ...options, outputDir: loraDir, saveEvery: 1 })).toThrow(ConfigError);
    expect(() => new DPOTrainer(inputs, { ...options, outputDir: loraDir, saveEvery: 1 })).toThrow(/need saveModel/);
    const trainer = new DPOTrainer({ ...inputs, saveModel: (directory) => saveAdapter(model, directory) }, { ...options, outputDir: loraDir, saveEvery: 1 });
    await trainer.train();
    expect((await fs.readdir(path.join(loraDir, 'checkpoint-1'))).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'optimizer.safetensors', 'parameters.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json']);
    trainer.dispose();
    model.dispose();
  }, 60_000);
});
