// The final save replaces every file atomically (issue 18 item 2): a process killed in the middle of replacing a
// saved model leaves, under every name, the old complete file or the new one — never no model — and the next save
// cleans up after it.
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCausalLM } from '../../src/model/model_factory';
import { SFTTrainer } from '../../src/sft/sft_trainer';
import { loadTokenizer } from '../../src/tokenizer/tokenizer';
import { killAtMarker } from './support/kill_at_marker';
import { tinySftSetup } from './support/tiny_sft';

const WORKER = path.join(__dirname, 'workers', 'save_model.ts');

async function embedding(directory: string): Promise<Float32Array> {
  const model = await loadCausalLM(directory);
  const values = model.tensor('transformer.wte.weight').dataSync().slice() as Float32Array;
  model.dispose();
  return values;
}

describe('SFTTrainer.save across SIGKILL', () => {
  it('killed after the first file is renamed in: the old model still loads, the next save replaces it and removes the staging folder', async () => {
    await tf.setBackend('cpu');
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-savekill-'));
    const marker = path.join(directory, '..', `${path.basename(directory)}.marker`);
    try {
      const { model, tokenizer, train } = tinySftSetup(0);
      const trainer = new SFTTrainer({ model, tokenizer, trainDataset: train }, { maxLength: 48, progress: false });
      await trainer.save(directory);
      await fs.writeFile(path.join(directory, 'sft_metrics.jsonl'), '{"step":1}\n'); // what training left there is kept
      const old = await embedding(directory);
      const pid = await killAtMarker(WORKER, [directory, '1'], { RLHFJS_TEST_PAUSE_AFTER_RENAME: marker }, marker);
      const names = (await fs.readdir(directory)).sort();
      expect(names).toEqual([expect.stringMatching(new RegExp(`^\\.staging-${pid}-[0-9a-f]+$`)), 'config.json', 'model.safetensors', 'sft_metrics.jsonl', 'tokenizer.json', 'tokenizer_config.json']);
      expect(await embedding(directory)).toEqual(old); // config.json was replaced (same content), the weights are still the old ones
      await loadTokenizer(directory);

      const fresh = tinySftSetup(1);
      const second = new SFTTrainer({ model: fresh.model, tokenizer: fresh.tokenizer, trainDataset: fresh.train }, { maxLength: 48, progress: false });
      await second.save(directory);
      expect((await fs.readdir(directory)).sort()).toEqual(['config.json', 'model.safetensors', 'sft_metrics.jsonl', 'tokenizer.json', 'tokenizer_config.json']);
      expect(await embedding(directory)).toEqual(fresh.model.tensor('transformer.wte.weight').dataSync());
      expect(await fs.readFile(path.join(directory, 'sft_metrics.jsonl'), 'utf8')).toBe('{"step":1}\n');
      for (const t of [trainer, second]) t.dispose();
      for (const m of [model, fresh.model]) m.dispose();
    } finally {
      await fs.rm(directory, { recursive: true, force: true });
      await fs.rm(marker, { force: true });
    }
  }, 90_000);
});
