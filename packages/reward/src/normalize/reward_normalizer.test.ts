import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError, ConfigError } from '@rlhfjs/core';
import { RewardNormalizer } from './reward_normalizer';

function twoPass(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, variance: values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length };
}

describe('RewardNormalizer', () => {
  const sample = [3.5, -1.25, 7, 0, 2, 2, 11.5, -4, 0.125, 5];

  it('matches the two-pass mean and population variance', () => {
    const normalizer = new RewardNormalizer().fit(sample);
    const expected = twoPass(sample);
    expect(normalizer.count).toBe(sample.length);
    expect(normalizer.mean).toBeCloseTo(expected.mean, 12);
    expect(normalizer.variance).toBeCloseTo(expected.variance, 12);
  });

  it('gives the same statistics batch by batch, and when two normalizers are combined', () => {
    const batched = new RewardNormalizer().update(sample.slice(0, 3)).update([]).update(sample.slice(3, 7)).update(sample.slice(7));
    const left = new RewardNormalizer().fit(sample.slice(0, 4));
    const right = new RewardNormalizer().fit(sample.slice(4));
    const combined = left.combine(right);
    const expected = twoPass(sample);
    for (const normalizer of [batched, combined]) {
      expect(normalizer.count).toBe(sample.length);
      expect(normalizer.mean).toBeCloseTo(expected.mean, 12);
      expect(normalizer.variance).toBeCloseTo(expected.variance, 12);
    }
  });

  it('keeps precision for values with a large offset (Welford, not sum of squares)', () => {
    const shifted = sample.map((v) => v + 1e9);
    const normalizer = new RewardNormalizer().fit(shifted);
    expect(normalizer.variance).toBeCloseTo(twoPass(sample).variance, 4);
  });

  it('normalizes to mean 0 and standard deviation 1; fit resets', () => {
    const normalizer = new RewardNormalizer().fit([100, 200]).fit(sample);
    const out = Array.from(normalizer.normalize(sample));
    const { mean, variance } = twoPass(out);
    expect(mean).toBeCloseTo(0, 6);
    expect(variance).toBeCloseTo(1, 5);
    expect(normalizer.normalize([normalizer.mean])[0]).toBeCloseTo(0, 6);
  });

  it('refuses non-finite values and normalizing before fitting', () => {
    expect(() => new RewardNormalizer().update([1, Number.NaN])).toThrow(ConfigError);
    expect(() => new RewardNormalizer().normalize([1])).toThrow(/no values/);
  });

  it('saves and loads its state; a wrong file is a CheckpointError', async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'normalizer-'));
    const file = path.join(directory, 'reward_normalizer.json');
    const normalizer = new RewardNormalizer({ epsilon: 1e-6 }).fit(sample);
    await normalizer.save(file);
    const loaded = await RewardNormalizer.load(file);
    expect(loaded.state()).toEqual(normalizer.state());
    await fs.writeFile(file, JSON.stringify({ format: 'something-else' }));
    await expect(RewardNormalizer.load(file)).rejects.toThrow(CheckpointError);
    await fs.rm(directory, { recursive: true, force: true });
  });
});
