import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTokenizer, Tokenizer } from './tokenizer';
import { trainByteLevelBpe } from './train_bpe';

describe('Tokenizer.save', () => {
  it('replaces each file by renaming a complete new one over it (never truncating it in place), leaving no temporary file', async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-toksave-'));
    try {
      const json = trainByteLevelBpe(['one two three', 'four five'], { vocabSize: 270, specialTokens: ['<|endoftext|>'] });
      const tokenizer = new Tokenizer(json, { eos_token: '<|endoftext|>', chat_template: '{{ messages[0].content }}' });
      await tokenizer.save(directory);
      const inodes = new Map(await Promise.all((await fs.readdir(directory)).map(async (name) => [name, (await fs.stat(path.join(directory, name))).ino] as const)));
      await tokenizer.save(directory);
      const names = (await fs.readdir(directory)).sort();
      expect(names).toEqual(['chat_template.jinja', 'tokenizer.json', 'tokenizer_config.json']);
      for (const name of names) expect((await fs.stat(path.join(directory, name))).ino).not.toBe(inodes.get(name));
      const reloaded = await loadTokenizer(directory);
      expect(reloaded.encode('one two')).toEqual(tokenizer.encode('one two'));
    } finally {
      await fs.rm(directory, { recursive: true, force: true });
    }
  });
});
