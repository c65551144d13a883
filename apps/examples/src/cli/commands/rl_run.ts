import type { CausalLM, Tokenizer } from '@rlhfjs/core';
import { withAdaptersDisabled } from '@rlhfjs/lora';
import type { ReferencePolicy } from '@rlhfjs/ppo';
import { stringOption, type OptionValues } from '../option_spec';
import { appendMetricsRecord } from './metrics_log';
import { policyWriter, savePolicy } from './save_policy';
import { loadReferenceCopy, loadStartModel, maybeApplyLora } from './start_model';
import { lastMetric, summaryLine } from './train_run';

/** What an RL command trains: the policy (LoRA applied when asked), its tokenizer and its KL reference. */
export interface RlModels<R extends ReferencePolicy | undefined> {
  readonly policy: CausalLM;
  readonly tokenizer: Tokenizer;
  /** Whether the policy trains LoRA adapters (then the reference is the policy with adapters disabled). */
  readonly lora: boolean;
  readonly reference: R;
}

/**
 * Loads the start model and, when `withReference`, its reference (the policy with adapters disabled under LoRA,
 * else a frozen copy); runs `body`; disposes what it loaded, even when `body` throws.
 */
export function withRlModels<T>(options: OptionValues, withReference: true, body: (models: RlModels<ReferencePolicy>) => Promise<T>): Promise<T>;
export function withRlModels<T>(
  options: OptionValues,
  withReference: boolean,
  body: (models: RlModels<ReferencePolicy | undefined>) => Promise<T>,
): Promise<T>;
export async function withRlModels<T>(
  options: OptionValues,
  withReference: boolean,
  body: ((models: RlModels<ReferencePolicy>) => Promise<T>) | ((models: RlModels<ReferencePolicy | undefined>) => Promise<T>),
): Promise<T> {
  let policy: CausalLM | null = null;
  let referenceModel: CausalLM | null = null;
  try {
    const loaded = await loadStartModel(options);
    policy = loaded.model;
    const model = policy;
    const lora = maybeApplyLora(model, options);
    let reference: ReferencePolicy | undefined;
    if (withReference) {
      if (lora) reference = { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => withAdaptersDisabled(model, fn) };
      else {
        referenceModel = await loadReferenceCopy(options);
        reference = { kind: 'frozen', model: referenceModel };
      }
    }
    // `reference` is undefined only when `withReference` is false, where the second overload types it so.
    return await body({ policy: model, tokenizer: loaded.tokenizer, lora, reference: reference as ReferencePolicy });
  } finally {
    policy?.dispose();
    referenceModel?.dispose();
  }
}

/** The part of PPOTrainer / GRPOTrainer that the CLI loop drives. */
export interface RlTrainer {
  readonly config: { readonly iterations: number };
  readonly completedIterations: number;
  readonly history: readonly Readonly<Record<string, number>>[];
  step(): Promise<Readonly<Record<string, number>>>;
  prepareOutputDir(outputDir: string, options: { overwrite?: boolean; resumeFrom?: string | null }): Promise<string | null>;
  saveCheckpoint(outputDir: string, keep?: number, options?: { saveModel?: (directory: string) => Promise<void> }): Promise<string>;
  evaluate(): Promise<number>;
  dispose(): void;
}

export interface RlLoopOptions {
  /** 'ppo' or 'grpo': names the metrics file (`<command>_metrics.jsonl`), log lines and summary. */
  readonly command: string;
  readonly options: OptionValues;
  readonly output: string;
  /** This process's rank: only rank 0 logs, saves and writes the summary. */
  readonly rank: number;
  /** Whether evaluation prompts were given (then the trainer is evaluated after the last iteration). */
  readonly evaluate: boolean;
  /** When set, rank 0 appends the eval score to the metrics file under this key. */
  readonly evalMetricKey?: string;
  /** Logged after each iteration as `label=value` (4 decimals): label → metrics key. */
  readonly progress: Readonly<Record<string, string>>;
  /** In the summary line, each metric's last value: label → metrics key. */
  readonly summary: Readonly<Record<string, string>>;
  /** The summary's label for the eval score (present only when evaluated). */
  readonly evalLabel: string;
  readonly write: (text: string) => void;
  readonly log: (text: string) => void;
}

/**
 * Readies --output (core's guard: another run there is refused unless --overwrite) and resumes `--resume-from`,
 * steps to the configured iterations (rank 0 appends metrics, logs progress and checkpoints every `--save-every`),
 * evaluates, and on rank 0 saves the policy and writes the summary line. Disposes the trainer.
 */
export async function runRlLoop<R extends ReferencePolicy | undefined>(trainer: RlTrainer, models: RlModels<R>, loop: RlLoopOptions): Promise<void> {
  const { command, options, output } = loop;
  try {
    // another run in --output is refused unless --overwrite; --resume-from (a folder or 'latest') is restored
    await trainer.prepareOutputDir(output, { overwrite: options['overwrite'] === true, resumeFrom: stringOption(options, 'resumeFrom') ?? null });
    const total = trainer.config.iterations;
    const saveEvery = options['saveEvery'] as number;
    while (trainer.completedIterations < total) {
      const metrics = await trainer.step();
      const done = trainer.completedIterations;
      if (loop.rank !== 0) continue;
      await appendMetricsRecord(output, command, { step: done, ...metrics });
      const fields = Object.entries(loop.progress).map(([label, key]) => `${label}=${(metrics[key] ?? Number.NaN).toFixed(4)}`);
      loop.log(`${command} ${done}/${total} ${fields.join(' ')}\n`);
      if (saveEvery > 0 && done % saveEvery === 0) await trainer.saveCheckpoint(output, Number.MAX_SAFE_INTEGER, { saveModel: policyWriter(models.policy, models.tokenizer, models.lora) }); // output/checkpoint-<done>, a model folder too
    }
    const evalScore = loop.evaluate ? await trainer.evaluate() : null;
    if (loop.rank !== 0) return;
    if (evalScore !== null && loop.evalMetricKey !== undefined) await appendMetricsRecord(output, command, { step: trainer.completedIterations, [loop.evalMetricKey]: evalScore });
    const saved = await savePolicy(models.policy, models.tokenizer, output, models.lora);
    const last = Object.fromEntries(Object.entries(loop.summary).map(([label, key]) => [label, lastMetric(trainer.history, key)]));
    const evaluated = evalScore === null ? {} : { [loop.evalLabel]: evalScore };
    loop.write(summaryLine(command, { iterations: trainer.completedIterations, ...last, ...evaluated, saved, output }));
  } finally {
    trainer.dispose();
  }
}
