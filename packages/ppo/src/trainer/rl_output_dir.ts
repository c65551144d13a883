import { prepareOutputDir } from '@rlhfjs/core';

export interface RlOutputDirOptions {
  /** Replace a previous run's checkpoints and metrics log in the directory (default false: refuse it). */
  readonly overwrite?: boolean;
  /** A checkpoint folder, or 'latest' (the newest `checkpoint-<iteration>` under the directory); default null. */
  readonly resumeFrom?: string | null;
}

/** What of a PPO / GRPO trainer readying its output directory needs. */
export interface RlOutputDirTrainer {
  readonly config: { readonly iterations: number };
  resumeFrom(directory: string): Promise<void>;
}

/**
 * Core's `prepareOutputDir` for an online-RL trainer, as SFT, DPO and reward training get it from core's Trainer:
 * crash leftovers cleaned; a directory holding another run (checkpoints, `<name>_metrics.jsonl`, a saved model)
 * refused unless `overwrite` or resuming one of its checkpoints; 'latest' with none, or a checkpoint beyond
 * `iterations`, is a CheckpointError. A checkpoint found is restored into `trainer`. Only rank 0 (`writer`) changes
 * the directory. Resolves to the checkpoint resumed, or null.
 */
export async function prepareRlOutputDir(trainer: RlOutputDirTrainer, where: string, name: string, outputDir: string, writer: boolean, options: RlOutputDirOptions): Promise<string | null> {
  const prepared = await prepareOutputDir({
    where,
    outputDir,
    metricsLog: `${name}_metrics.jsonl`,
    overwrite: options.overwrite ?? false,
    resumeFrom: options.resumeFrom ?? null,
    totalSteps: trainer.config.iterations,
    writer,
  });
  if (prepared.resumeDirectory !== null) await trainer.resumeFrom(prepared.resumeDirectory);
  return prepared.resumeDirectory;
}
