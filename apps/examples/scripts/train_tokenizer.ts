// Trains the demo task's byte-level BPE tokenizer with core's trainByteLevelBpe and writes it as an HF tokenizer.
//   npx tsx apps/examples/scripts/train_tokenizer.ts [--seed 0] [--out apps/examples/assets/tokenizer]
import { writeFileAtomic } from '@rlhfjs/core';
import { promises as fs } from 'fs';
import * as path from 'path';
import { makeTaskData } from '../src/task/task_data';
import { taskTokenizerCorpus, trainTaskTokenizer } from '../src/task/task_tokenizer';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? (process.argv[at + 1] as string) : fallback;
}

async function main(): Promise<void> {
  const seed = Number(argument('seed', '0'));
  const out = path.resolve(argument('out', path.join(__dirname, '..', 'assets', 'tokenizer')));
  const corpus = taskTokenizerCorpus(makeTaskData({ seed }));
  const { tokenizerJson, config } = trainTaskTokenizer(corpus);
  await fs.mkdir(out, { recursive: true });
  await writeFileAtomic(path.join(out, 'tokenizer.json'), `${JSON.stringify(tokenizerJson, null, 1)}\n`);
  await writeFileAtomic(path.join(out, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const vocab = (tokenizerJson['model'] as { vocab: Record<string, number> }).vocab;
  console.log(`wrote ${path.relative(process.cwd(), out)}: ${Object.keys(vocab).length} tokens from ${corpus.length} texts`);
}

main().catch((error: unknown) => {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
});
