// `npm run demo`: the whole pipeline on the built-in task, on a laptop CPU.
// SFT from scratch → reward model → PPO, and SFT → DPO; then an HTML report with the gold-score gains.
import * as path from 'path';
import { runDemo } from './pipeline/run_demo';

const root = path.join(__dirname, '..', '..', '..');
runDemo({ outputRoot: path.join(root, 'reports') }).then(
  (result) => {
    console.log(`\nreport: ${result.reportPath}`);
  },
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
