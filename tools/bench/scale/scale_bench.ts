// `npm run bench:scale`: rlhfjs against plain PyTorch at real model sizes (GPT-2 124M, SmolLM2-135M and
// Qwen2.5-0.5B shapes, random init). Writes the HF-format checkpoints with our own writer (once, cached under
// --dir), then runs every (model, row) as one child process per side, the two sides alternately, and prints the
// medians with ratios and each child's peak RSS. Figures only: nothing is asserted.
//
//   npm run bench:scale -- [--models gpt2,smollm2,qwen2.5-0.5b] [--rows forward,gen1,gen8,lora,full(,fullckpt)]
//                          [--pairs 1] [--reps 2] [--no-torch] [--backend native] [--dir /tmp/rlhfjs-bench-scale]
//                          [--timeout-min 20]
import { spawnSync } from 'child_process';
import { cpus, tmpdir } from 'os';
import * as path from 'path';

import { SCALE_MODELS, writeScaleCheckpoint, type ScaleModel } from './scale_models';
import { describeTorch, PYTHON, torchAvailable as isTorchAvailable, torchEnvironment } from './torch_env';
import { DEFAULT_SCALE_ROWS, ROW_LABELS, SCALE_ROWS, workloadShape, type ScaleRow } from './scale_rows';

const root = path.join(__dirname, '..', '..', '..');

interface BenchOptions {
  readonly models: readonly ScaleModel[];
  readonly rows: readonly ScaleRow[];
  readonly pairs: number;
  readonly reps: number;
  readonly torch: boolean;
  readonly backend: string | undefined;
  readonly dir: string;
  readonly timeoutMs: number;
}

function parseOptions(argv: readonly string[]): BenchOptions {
  let models = SCALE_MODELS.map((model) => model.key);
  let rows: string[] = [...DEFAULT_SCALE_ROWS];
  let pairs = 1;
  let reps = 2;
  let torch = true;
  let backend: string | undefined;
  let dir = path.join(tmpdir(), 'rlhfjs-bench-scale');
  let timeoutMinutes = 20;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--no-torch') {
      torch = false;
      continue;
    }
    const value = argv[++i] ?? '';
    if (argument === '--models') models = value.split(',');
    else if (argument === '--rows') rows = value.split(',');
    else if (argument === '--pairs') pairs = Number(value);
    else if (argument === '--reps') reps = Number(value);
    else if (argument === '--backend') backend = value;
    else if (argument === '--dir') dir = value;
    else if (argument === '--timeout-min') timeoutMinutes = Number(value);
    else throw new Error(`bench:scale: unknown argument ${argument}`);
  }
  const unknownModels = models.filter((key) => !SCALE_MODELS.some((model) => model.key === key));
  const unknownRows = rows.filter((row) => !(SCALE_ROWS as readonly string[]).includes(row));
  if (unknownModels.length > 0 || unknownRows.length > 0) {
    throw new Error(
      `bench:scale: unknown ${[...unknownModels.map((m) => `model "${m}"`), ...unknownRows.map((r) => `row "${r}"`)].join(', ')}; ` +
        `models: ${SCALE_MODELS.map((m) => m.key).join(', ')}; rows: ${SCALE_ROWS.join(', ')}`,
    );
  }
  if (!(Number.isInteger(pairs) && pairs >= 1 && Number.isInteger(reps) && reps >= 1)) throw new Error('bench:scale: --pairs and --reps must be positive integers');
  return {
    models: SCALE_MODELS.filter((model) => models.includes(model.key)),
    rows: SCALE_ROWS.filter((row) => rows.includes(row)),
    pairs,
    reps,
    torch,
    backend,
    dir,
    timeoutMs: timeoutMinutes * 60_000,
  };
}

interface ChildResult {
  readonly seconds: number;
  readonly tokensPerSecond: number | null;
  readonly peakRssBytes: number;
  readonly backend: string;
  readonly blas?: string;
}

type Outcome = ChildResult | { readonly failure: string };

function runChild(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Outcome {
  const child = spawnSync(command, args, { cwd: root, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const line = (child.stdout ?? '').split('\n').find((text) => text.startsWith('RESULT '));
  if (line !== undefined) return JSON.parse(line.slice('RESULT '.length)) as ChildResult;
  if (child.error !== undefined && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { failure: `did not finish in ${timeoutMs / 60_000} min` };
  const stderr = (child.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  return { failure: `exit ${child.status ?? child.signal}: ${stderr.slice(0, 300)}` };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((p, q) => p - q);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function formatSeconds(seconds: number): string {
  return seconds >= 1 ? `${seconds.toFixed(2)} s` : `${(seconds * 1000).toFixed(0)} ms`;
}

function formatGb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

function summarize(outcomes: readonly Outcome[]): { text: string; seconds: number; rss: number; tokensPerSecond: number | null } {
  const ok = outcomes.filter((o): o is ChildResult => !('failure' in o));
  if (ok.length === 0) return { text: (outcomes[0] as { failure: string } | undefined)?.failure ?? 'not run', seconds: NaN, rss: NaN, tokensPerSecond: null };
  const seconds = median(ok.map((o) => o.seconds));
  const rss = median(ok.map((o) => o.peakRssBytes));
  const tokens = ok[0]?.tokensPerSecond === null ? null : median(ok.map((o) => o.tokensPerSecond as number));
  const text = tokens === null ? formatSeconds(seconds) : `${tokens.toFixed(1)} tok/s`;
  return { text, seconds, rss, tokensPerSecond: tokens };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const torchAvailable = options.torch && isTorchAvailable();
  if (options.torch && !torchAvailable) {
    console.log(`[bench:scale] PyTorch not importable by ${PYTHON}: install it with \`apt-get install -y python3-torch\` (Debian) for the comparison; rlhfjs only.`);
  }
  const torchEnv = torchEnvironment();
  console.log(`[bench:scale] ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); checkpoints under ${options.dir}; ${options.pairs} pair(s), median of ${options.reps} rep(s) after a warm-up in each child`);
  if (torchAvailable) console.log(`[bench:scale] ${describeTorch()}`);
  console.log(`[bench:scale] rlhfjs children: backend ${options.backend ?? '(initBackend default)'}, OPENBLAS_CORETYPE=${process.env['OPENBLAS_CORETYPE'] ?? '(unset: the backend decides)'}`);
  const table: string[] = [];
  for (const model of options.models) {
    const directory = path.join(options.dir, model.key);
    const started = Date.now();
    const parameters = await writeScaleCheckpoint(model, directory);
    console.log(`[bench:scale] ${model.label}: ${(parameters / 1e6).toFixed(1)} M parameters, checkpoint ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${directory})`);
    for (const row of options.rows) {
      const shape = workloadShape(row);
      const ours: Outcome[] = [];
      const theirs: Outcome[] = [];
      const runOurs = () => {
        const args = ['--import', 'tsx', 'tools/bench/scale/scale_worker.ts', '--dir', directory, '--row', row, '--reps', String(options.reps), '--lora-targets', model.loraTargets.join(',')];
        if (options.backend !== undefined) args.push('--backend', options.backend);
        ours.push(runChild(process.execPath, args, process.env, options.timeoutMs));
      };
      const runTheirs = () => {
        if (!torchAvailable) return;
        const args = ['tools/bench/scale/torch_worker.py', '--dir', directory, '--row', row, '--batch', String(shape.batch), '--length', String(shape.length),
          '--new-tokens', String(shape.newTokens), '--reps', String(options.reps), '--lora-targets', model.loraTargets.join(',')];
        theirs.push(runChild(PYTHON, args, torchEnv, options.timeoutMs));
      };
      for (let pair = 0; pair < options.pairs; pair++) {
        if (pair % 2 === 0) {
          runOurs();
          runTheirs();
        } else {
          runTheirs();
          runOurs();
        }
      }
      const a = summarize(ours);
      const b = torchAvailable ? summarize(theirs) : null;
      let ratio = '';
      if (b !== null && Number.isFinite(a.seconds) && Number.isFinite(b.seconds)) ratio = `${(a.seconds / b.seconds).toFixed(2)}×`;
      const rssRatio = b !== null && Number.isFinite(a.rss) && Number.isFinite(b.rss) ? `${(a.rss / b.rss).toFixed(2)}×` : '';
      const line =
        `| ${model.label} | ${ROW_LABELS[row]} | ${a.text} | ${b?.text ?? '-'} | ${ratio} | ` +
        `${Number.isFinite(a.rss) ? formatGb(a.rss) : '-'} | ${b !== null && Number.isFinite(b.rss) ? formatGb(b.rss) : '-'} | ${rssRatio} |`;
      console.log(line);
      table.push(line);
    }
  }
  console.log('\n| model | work | rlhfjs | torch | time ratio (rlhfjs/torch) | peak RSS rlhfjs | peak RSS torch | RSS ratio |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const line of table) console.log(line);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
