/**
 * A small, fast, seeded random number generator: mulberry32 (Tommy Ettinger's 32-bit generator, the one commonly
 * used in JavaScript). Its whole state is one uint32, so `getState()` / `createRng(state)` save and restore it
 * exactly (a plain JSON object, for checkpoints). Not for cryptography.
 */
import { ConfigError } from '../errors/errors';

export interface RngState {
  /** The generator's 32-bit state, an integer in [0, 2^32). */
  readonly state: number;
}

export interface Rng {
  /** A uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** A uniform number in [0, 1) with 32 random bits. */
  next(): number;
  /** A uniform integer in [0, n) without modulo bias (rejection sampling); n in [1, 2^32]. */
  nextInt(n: number): number;
  getState(): RngState;
  setState(state: RngState): void;
}

const TWO_TO_32 = 2 ** 32;

/** A generator from an integer seed (taken modulo 2^32) or from a saved state. */
export function createRng(seed: number | RngState): Rng {
  return new Mulberry32(typeof seed === 'number' ? seedToState(seed) : checkState(seed, 'createRng'));
}

function seedToState(seed: number): number {
  if (!Number.isSafeInteger(seed))
    throw new ConfigError('createRng', [`seed must be a safe integer, got ${String(seed)}`]);
  return ((seed % TWO_TO_32) + TWO_TO_32) % TWO_TO_32;
}

function checkState(state: RngState, where: string): number {
  const value = (state as { state?: unknown } | null)?.state;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= TWO_TO_32) {
    throw new ConfigError(where, [`state.state must be an integer in [0, 2^32), got ${String(value)}`]);
  }
  return value;
}

class Mulberry32 implements Rng {
  constructor(private state: number) {}

  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  next(): number {
    return this.nextUint32() / TWO_TO_32;
  }

  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_TO_32) {
      throw new ConfigError('Rng.nextInt', [`n must be an integer in [1, 2^32], got ${String(n)}`]);
    }
    // Accept only draws below the largest multiple of n, so every remainder is equally likely.
    const limit = TWO_TO_32 - (TWO_TO_32 % n);
    for (;;) {
      const draw = this.nextUint32();
      if (draw < limit) return draw % n;
    }
  }

  getState(): RngState {
    return Object.freeze({ state: this.state });
  }

  setState(state: RngState): void {
    this.state = checkState(state, 'Rng.setState');
  }
}

/** A uniformly random permutation of 0 … n − 1 (Fisher–Yates, from the last index down). */
export function shuffleIndices(n: number, rng: Rng): number[] {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ConfigError('shuffleIndices', [`n must be a non-negative integer, got ${String(n)}`]);
  const indices = Array.from({ length: n }, (_, index) => index);
  for (let last = n - 1; last > 0; last -= 1) {
    const pick = rng.nextInt(last + 1);
    const kept = indices[last] as number;
    indices[last] = indices[pick] as number;
    indices[pick] = kept;
  }
  return indices;
}
