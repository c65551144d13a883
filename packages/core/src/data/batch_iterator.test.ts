import { CheckpointError, ConfigError } from '../errors/errors';
import { batchIterator } from './batch_iterator';

describe('batchIterator', () => {
  it('covers every index once per epoch, in a new order each epoch, keeping the short last batch', () => {
    const iterator = batchIterator(10, { batchSize: 4, seed: 1 });
    expect(iterator.batchesPerEpoch).toBe(3);
    const epochs = [0, 1].map(() => [iterator.next(), iterator.next(), iterator.next()]);
    for (const [epoch, batches] of epochs.entries()) {
      expect(batches.map((batch) => [batch.epoch, batch.batchIndex, batch.indices.length])).toEqual([
        [epoch, 0, 4],
        [epoch, 1, 4],
        [epoch, 2, 2],
      ]);
      const seen = batches.flatMap((batch) => batch.indices).sort((a, b) => a - b);
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    const order = (batches: { indices: number[] }[]) => batches.flatMap((batch) => batch.indices);
    expect(order(epochs[0] ?? [])).not.toEqual(order(epochs[1] ?? []));
  });

  it('keeps order without shuffle and drops the short batch with dropLast', () => {
    const iterator = batchIterator(5, { batchSize: 2, shuffle: false, dropLast: true });
    expect([iterator.next(), iterator.next(), iterator.next()].map((batch) => batch.indices)).toEqual([
      [0, 1],
      [2, 3],
      [0, 1],
    ]);
  });

  it('resumes exactly from a saved state, mid-epoch and at an epoch end', () => {
    for (const taken of [0, 1, 5, 6, 7, 20]) {
      const original = batchIterator(23, { batchSize: 4, seed: 42 });
      for (let step = 0; step < taken; step += 1) original.next();
      const saved = JSON.parse(JSON.stringify(original.getState())) as ReturnType<typeof original.getState>;
      const resumed = batchIterator(23, { batchSize: 4, seed: 42 }, saved);
      const expected = Array.from({ length: 15 }, () => original.next());
      expect(Array.from({ length: 15 }, () => resumed.next())).toEqual(expected);
    }
  });

  it('is deterministic given the seed and differs across seeds', () => {
    const first = (seed: number) => batchIterator(50, { batchSize: 50, seed }).next().indices;
    expect(first(3)).toEqual(first(3));
    expect(first(3)).not.toEqual(first(4));
  });

  it('refuses a saved state of another configuration and bad options', () => {
    const state = batchIterator(10, { batchSize: 2 }).getState();
    expect(() => batchIterator(11, { batchSize: 2 }, state)).toThrow(CheckpointError);
    expect(() => batchIterator(10, { batchSize: 2, seed: 1 }, state)).toThrow(/seed is 1 but the saved state has 0/);
    expect(() => batchIterator(0, { batchSize: 0 })).toThrow(/datasetLength[\s\S]*batchSize/);
    expect(() => batchIterator(3, { batchSize: 4, dropLast: true })).toThrow(ConfigError);
  });
});
