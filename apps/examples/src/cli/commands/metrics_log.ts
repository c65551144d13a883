import { promises as fs } from 'fs';
import * as path from 'path';

/**
 * Appends one record to `<output>/<stage>_metrics.jsonl`, the JSON Lines log core's Trainer writes for sft, reward
 * and dpo (`{"stage": ..., "step": ..., ...metrics}`), for commands that run their own loop (ppo).
 */
export async function appendMetricsRecord(output: string, stage: string, record: Readonly<Record<string, number>>): Promise<void> {
  await fs.mkdir(output, { recursive: true });
  await fs.appendFile(path.join(output, `${stage}_metrics.jsonl`), `${JSON.stringify({ stage, ...record })}\n`);
}
