import type { Rng } from '@rlhfjs/core';

/**
 * A uniform integer in [min, max] drawn as `min + floor(next() * (max - min + 1))`. Core's `rng.nextInt` is unbiased
 * but draws differently; the committed task data was generated with this one, so the generator keeps it.
 */
export function randomInteger(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng.next() * (max - min + 1));
}
