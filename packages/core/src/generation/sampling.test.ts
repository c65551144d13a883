import { createRng, type Rng } from '../data/rng';
import { TrainingError } from '../errors/errors';
import { sampleToken } from './sampling';

/** An Rng whose next() returns `u` (the only draw sampleToken makes). */
function fixedDraw(u: number): Rng {
  const rng = createRng(0);
  return { ...rng, next: () => u };
}

describe('sampleToken', () => {
  // logits [0, 1, 1, 0]: p ∝ [1, e, e, 1], total 2 + 2e. HF's order is probability descending, ties by token id:
  // 1, 2, 0, 3 with cumulative mass e, 2e, 2e + 1, 2e + 2, so a draw u lands on the token whose segment holds u·total.
  const logits = Float32Array.from([0, 1, 1, 0]);
  const e = Math.E;
  const total = 2 + 2 * e;
  const config = { doSample: true, temperature: 1, topK: 0, topP: 1 };

  it.each([
    [0.5 * e, 1],
    [1.5 * e, 2],
    [2 * e + 0.5, 0],
    [2 * e + 1.5, 3],
  ])('a draw at mass %f picks token %i (ties ordered by token id) with its exact log-prob', (mass, token) => {
    const drawn = sampleToken(logits, config, fixedDraw(mass / total));
    expect(drawn.token).toBe(token);
    expect(drawn.logProb).toBeCloseTo((logits[token] as number) - Math.log(total), 6);
  });

  it('top-k 2 keeps only the two tied best tokens (second half of their mass → token 2)', () => {
    expect(sampleToken(logits, { ...config, topK: 2 }, fixedDraw(0.75)).token).toBe(2);
    expect(sampleToken(logits, { ...config, topK: 2 }, fixedDraw(0.25)).token).toBe(1);
  });

  it('top-p keeps the smallest prefix reaching p (at least one token)', () => {
    // token 1 alone holds e / (2 + 2e) ≈ 0.366 of the mass: top-p 0.3 keeps only it, whatever the draw
    expect(sampleToken(logits, { ...config, topP: 0.3 }, fixedDraw(0.99)).token).toBe(1);
  });

  it('NaN logits are a TrainingError, not a silent token', () => {
    expect(() => sampleToken(Float32Array.from([0, Number.NaN, 1]), config, createRng(0))).toThrow(TrainingError);
  });
});
