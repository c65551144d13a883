import { promises as fs } from 'fs';

/** A reference-logits fixture (`expected.json` from tools/golden/models.py or hub_checkpoints.py). */
export interface ExpectedLogits {
  inputIds: number[][];
  attentionMask: number[][];
  /** [batch, time, vocab] */
  logits: number[][][];
}

export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/** Largest |difference| over positions whose attentionMask is 1 (`actual` is [batch, time, vocab]). */
export function maxDifferenceAtRealTokens(actual: number[][][], expected: ExpectedLogits): number {
  let worst = 0;
  expected.logits.forEach((row, b) =>
    row.forEach((logits, t) => {
      if (expected.attentionMask[b]?.[t] !== 1) return;
      logits.forEach((value, v) => {
        worst = Math.max(worst, Math.abs(value - (actual[b]?.[t]?.[v] ?? Number.NaN)));
      });
    }),
  );
  return worst;
}
