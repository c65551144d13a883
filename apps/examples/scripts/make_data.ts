// Generates the built-in demo task's data (TRL JSONL formats) and its summary.
//   npx tsx apps/examples/scripts/make_data.ts [--seed 0] [--out apps/examples/data]
import * as path from 'path';
import { makeTaskData } from '../src/task/task_data';
import { writeTaskData } from '../src/task/write_task_data';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? (process.argv[at + 1] as string) : fallback;
}

async function main(): Promise<void> {
  const seed = Number(argument('seed', '0'));
  const out = path.resolve(argument('out', path.join(__dirname, '..', 'data')));
  const data = makeTaskData({ seed });
  const files = await writeTaskData(out, data);
  for (const file of files) console.log(`wrote ${path.relative(process.cwd(), file)}`);
  console.log(JSON.stringify(data.summary.labelNoise));
}

main().catch((error: unknown) => {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
});
