import {
  SFTTrainer,
  createCausalLM,
  initBackend,
  loadDataset,
  loadTokenizer,
  saveCausalLM,
  type CausalLM,
  type LogRecord,
  type SftRecord,
  type Tokenizer,
} from '@rlhfjs/core';
import { promises as fs } from 'fs';
import * as path from 'path';
import { writeReport } from '../report/write_report';
import type { CurvePoint, ReportSample } from '../report/report_types';
import { TASK_MODEL_CONFIG } from '../task/model_config';
import { evaluateGold, type GoldEvaluation } from './evaluate_gold';

export interface DemoOptions {
  outputRoot: string;
  /** Scales every stage's step count (default 1; the miniature test uses a small fraction). */
  scale?: number;
  /** Held-out prompts evaluated per stage (default 96). */
  evalPrompts?: number;
  progress?: boolean;
}

export interface DemoResult {
  reportPath: string;
  summary: Record<string, unknown>;
}

const EXAMPLES = path.join(__dirname, '..', '..');

export async function loadTaskData(): Promise<{
  tokenizer: Tokenizer;
  sftTrain: SftRecord[];
  sftHeldout: SftRecord[];
  heldoutPrompts: string[];
  summary: Record<string, unknown>;
}> {
  const tokenizer = await loadTokenizer(path.join(EXAMPLES, 'assets', 'tokenizer'));
  const data = (name: string) => path.join(EXAMPLES, 'data', name);
  const sftTrain = (await loadDataset(data('sft_train.jsonl'))).records as SftRecord[];
  const sftHeldout = (await loadDataset(data('sft_heldout.jsonl'))).records as SftRecord[];
  const prompts = (await loadDataset(data('prompts_heldout.jsonl'))).records.map((record) => (record as { prompt: string }).prompt);
  const summary = JSON.parse(await fs.readFile(data('summary.json'), 'utf8')) as Record<string, unknown>;
  return { tokenizer, sftTrain, sftHeldout, heldoutPrompts: prompts, summary };
}

function curve(history: readonly LogRecord[], key: string): CurvePoint[] {
  return history.filter((record) => typeof record[key] === 'number').map((record) => ({ step: record.step, value: record[key] as number }));
}

/** Stage 1: a small GPT-2 trained from scratch on the mixed-quality demonstrations. */
export async function runSftStage(tokenizer: Tokenizer, train: readonly SftRecord[], heldout: readonly SftRecord[], options: { steps: number; progress: boolean; outputDir: string }): Promise<{ model: CausalLM; history: LogRecord[]; heldoutLoss: number }> {
  const model = createCausalLM({ ...TASK_MODEL_CONFIG }, { seed: 0 });
  const trainer = new SFTTrainer(
    { model, tokenizer, trainDataset: train, evalDataset: heldout },
    { maxSteps: options.steps, batchSize: 16, learningRate: 2e-3, warmupSteps: Math.min(20, Math.floor(options.steps / 10)), lrScheduler: 'cosine', maxLength: 48, progress: options.progress, weightDecay: 0.01 },
  );
  const result = await trainer.train();
  const heldoutLoss = trainer.evaluateLoss(32);
  await trainer.save(options.outputDir);
  trainer.dispose();
  return { model, history: result.history, heldoutLoss };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const scale = options.scale ?? 1;
  const progress = options.progress ?? true;
  const backend = await initBackend({ verbose: true });
  const run = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(options.outputRoot, run);
  await fs.mkdir(runDir, { recursive: true });
  const { tokenizer, sftTrain, sftHeldout, heldoutPrompts, summary: dataSummary } = await loadTaskData();
  const evalPrompts = heldoutPrompts.slice(0, options.evalPrompts ?? 96);

  console.log(`[demo] stage 1/3: SFT from scratch (${Math.round(400 * scale)} steps)`);
  const sft = await runSftStage(tokenizer, sftTrain, sftHeldout, { steps: Math.max(2, Math.round(400 * scale)), progress, outputDir: path.join(runDir, 'sft') });
  const sftGold: GoldEvaluation = evaluateGold(sft.model, tokenizer, evalPrompts);
  console.log(`[demo] SFT held-out loss ${sft.heldoutLoss.toFixed(3)}, gold score ${sftGold.goldScore.toFixed(3)}`);

  const samples: ReportSample[] = evalPrompts.slice(0, 8).map((prompt, i) => ({
    prompt,
    generations: [{ stage: 'sft', text: sftGold.completions[i] as string, goldScore: sftGold.scores[i] as number }],
  }));
  const summary = {
    run,
    backend,
    sft: { goldScore: sftGold.goldScore, heldoutLoss: sft.heldoutLoss },
    ppo: { goldScore: Number.NaN, kl: Number.NaN },
    dpo: { goldScore: Number.NaN },
    rewardModel: { heldoutAccuracy: Number.NaN },
    labelNoise: (dataSummary['labelNoise'] as { observedTrain: number }).observedTrain,
    seconds: (Date.now() - started) / 1000,
  };
  const written = await writeReport(runDir, summary, { loss: { sft: curve(sft.history, 'loss') } }, samples);
  await saveCausalLM(sft.model, path.join(runDir, 'sft'));
  sft.model.dispose();
  return { reportPath: written.htmlPath, summary };
}
