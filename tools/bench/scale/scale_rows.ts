// The rows of `npm run bench:scale` and the work each one does (shared by the rlhfjs worker, the orchestrator and,
// through the --shape arguments, torch_worker.py).

export const SCALE_ROWS = ['forward', 'gen1', 'gen8', 'lora', 'full', 'fullckpt'] as const;
export type ScaleRow = (typeof SCALE_ROWS)[number];

/** What a plain `npm run bench:scale` runs (`--rows` picks others, e.g. `full,fullckpt`). */
export const DEFAULT_SCALE_ROWS: readonly ScaleRow[] = ['forward', 'gen1', 'gen8', 'lora', 'full'];

export interface WorkloadShape {
  readonly batch: number;
  /** Tokens per row: the sequence for forward/training, the prompt for generation. */
  readonly length: number;
  /** Greedy new tokens (generation rows only; 0 otherwise). */
  readonly newTokens: number;
}

export const ROW_LABELS: Readonly<Record<ScaleRow, string>> = {
  forward: 'forward b1×128',
  gen1: 'greedy gen b1, 32+64 tok',
  gen8: 'greedy gen b8, 32+64 tok',
  lora: 'LoRA r16 step b4×128 AdamW',
  full: 'full step b4×128 AdamW',
  fullckpt: 'full step b4×128 AdamW, grad ckpt',
};

export function workloadShape(row: ScaleRow): WorkloadShape {
  switch (row) {
    case 'forward':
      return { batch: 1, length: 128, newTokens: 0 };
    case 'gen1':
      return { batch: 1, length: 32, newTokens: 64 };
    case 'gen8':
      return { batch: 8, length: 32, newTokens: 64 };
    case 'lora':
    case 'full':
    case 'fullckpt':
      return { batch: 4, length: 128, newTokens: 0 };
    default: {
      const unreachable: never = row;
      throw new Error(`workloadShape: unknown row ${String(unreachable)}`);
    }
  }
}
