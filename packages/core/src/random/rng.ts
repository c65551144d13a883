/**
 * A small seeded PRNG (mulberry32) whose whole state is one 32-bit integer, so it can be saved in a checkpoint
 * and restored exactly.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** The state to save; `createRng(seed, state)` continues from it. */
  state(): number;
}

export function createRng(seed: number, state?: number): Rng {
  let s = (state ?? seed) >>> 0;
  return {
    next(): number {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    state(): number {
      return s;
    },
  };
}
