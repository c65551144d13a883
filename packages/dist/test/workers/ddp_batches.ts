// Shared by ddp_worker.ts and ddp_equivalence.test.ts: the sizes and the whitening batch.
import { createRng } from '@rlhfjs/core';

/** Examples one optimizer step consumes over all ranks; each rank takes GLOBAL_BATCH / worldSize of them. */
export const GLOBAL_BATCH = 8;
export const STEPS = 3;

/** The whole batch for the whitening test: values [8, 6] and a ragged mask; with 2 ranks, rank r whitens rows 4r … 4r+3. */
export function whitenBatch(): { values: number[][]; mask: number[][] } {
  const rng = createRng(31);
  const lengths = [6, 5, 6, 4, 1, 2, 3, 1]; // 21 entries on rank 0, 7 on rank 1
  const values = lengths.map((_, row) => Array.from({ length: 6 }, () => (rng.next() - 0.3) * 4 + row * 0.5));
  const mask = lengths.map((length) => Array.from({ length: 6 }, (_, t) => (t < length ? 1 : 0)));
  return { values, mask };
}

