// `npm run bench`: every benchmark of the workspace, one after the other, printing figures (never asserting).
import { spawnSync } from 'child_process';
import { existsSync } from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');
const benches: Array<[string, string[]]> = [
  ['tools/bench/core_bench.ts', ['native', 'wasm', 'cpu']],
  ['packages/native/bench/train_step_bench.ts', []],
  ['packages/lora/bench/quant_bench.ts', []],
  ['packages/dpo/bench/dpo_bench.ts', []],
  ['packages/ppo/bench/ppo_bench.ts', []],
  ['packages/dist/bench/allreduce_bench.ts', []],
];
for (const [file, args] of benches) {
  if (!existsSync(path.join(root, file))) {
    console.log(`[bench] ${file}: not present, skipped`);
    continue;
  }
  console.log(`\n[bench] ${file} ${args.join(' ')}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, stdio: 'inherit', timeout: 15 * 60 * 1000 });
  if (result.status !== 0) console.log(`[bench] ${file} exited with ${result.status ?? result.signal}`);
}
