import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors/errors';
import { createRng, shuffleIndices } from './rng';

// Written by tools/golden/data_rng.py, an independent Python implementation of mulberry32 and Fisher–Yates.
const golden = JSON.parse(readFileSync(join(__dirname, '../../test/fixtures/data/rng_golden.json'), 'utf8')) as {
  uint32: Record<string, number[]>;
  shuffle: Record<string, number[]>;
};

describe('createRng', () => {
  it('matches the reference mulberry32 outputs', () => {
    for (const [seed, expected] of Object.entries(golden.uint32)) {
      const rng = createRng(Number(seed));
      expect(expected.map(() => rng.nextUint32())).toEqual(expected);
    }
    // The widely quoted first value of mulberry32(1) in JavaScript.
    expect(createRng(1).next()).toBeCloseTo(0.6270739405881613, 15);
  });

  it('is deterministic and differs between seeds', () => {
    const draws = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 20 }, () => rng.next());
    };
    expect(draws(5)).toEqual(draws(5));
    expect(draws(5)).not.toEqual(draws(6));
  });

  it('saves and restores its state exactly, through JSON', () => {
    const rng = createRng(99);
    for (let index = 0; index < 17; index += 1) rng.next();
    const saved = JSON.parse(JSON.stringify(rng.getState())) as { state: number };
    const expected = Array.from({ length: 10 }, () => rng.nextUint32());
    const restored = createRng(saved);
    expect(Array.from({ length: 10 }, () => restored.nextUint32())).toEqual(expected);
    rng.setState(saved);
    expect(rng.nextUint32()).toBe(expected[0]);
  });

  it('draws nextInt uniformly', () => {
    const rng = createRng(11);
    const counts = new Array<number>(6).fill(0);
    const draws = 60_000;
    for (let index = 0; index < draws; index += 1) {
      const face = rng.nextInt(6);
      counts[face] = (counts[face] ?? 0) + 1;
    }
    const expected = draws / 6;
    const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    // 5 degrees of freedom: P(χ² > 20.5) ≈ 0.001.
    expect(chiSquare).toBeLessThan(20.5);
  });

  it('rejects bad seeds and states', () => {
    expect(() => createRng(1.5)).toThrow(ConfigError);
    expect(() => createRng({ state: -1 })).toThrow(ConfigError);
    expect(() => createRng(0).nextInt(0)).toThrow(ConfigError);
  });
});

describe('shuffleIndices', () => {
  it('matches the reference Fisher–Yates shuffles', () => {
    for (const [key, expected] of Object.entries(golden.shuffle)) {
      const [seed, n] = key.split(':').map(Number) as [number, number];
      expect(shuffleIndices(n, createRng(seed))).toEqual(expected);
    }
  });

  it('returns a permutation', () => {
    const permutation = shuffleIndices(1000, createRng(1));
    expect([...permutation].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, index) => index));
    expect(shuffleIndices(0, createRng(1))).toEqual([]);
  });
});
