import { ConfigError } from '../errors/errors';
import { collatePreferencePairs } from './preference_collate';

describe('collatePreferencePairs', () => {
  const pairs = [
    { promptIds: [1, 2], chosenIds: [3, 4], rejectedIds: [5] },
    { promptIds: [6], chosenIds: [7, 8, 9], rejectedIds: [10, 11], margin: 0.5 },
  ];

  it('puts chosen rows then rejected rows in one right-padded [2B, T] batch with completion loss masks', () => {
    const batch = collatePreferencePairs(pairs, { padTokenId: 0 });
    expect(batch.pairCount).toBe(2);
    expect(batch.inputIds).toEqual([[1, 2, 3, 4], [6, 7, 8, 9], [1, 2, 5, 0], [6, 10, 11, 0]]);
    expect(batch.attentionMask).toEqual([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 0]]);
    expect(batch.lossMask).toEqual([[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 1, 0], [0, 1, 1, 0]]);
    expect([batch.chosenLengths, batch.rejectedLengths]).toEqual([[2, 3], [1, 2]]);
    expect(Array.from(batch.margins ?? [])).toEqual([0, 0.5]);
  });

  it('left-pads whole sequences (no prompt), never scoring a row’s first token, and gives null margins when none is set', () => {
    const batch = collatePreferencePairs([{ chosenIds: [4, 5, 6], rejectedIds: [7] }], { padTokenId: 9, paddingSide: 'left' });
    expect(batch.inputIds).toEqual([[4, 5, 6], [9, 9, 7]]);
    expect(batch.attentionMask).toEqual([[1, 1, 1], [0, 0, 1]]);
    expect(batch.lossMask).toEqual([[0, 1, 1], [0, 0, 1]]);
    expect(batch.margins).toBeNull();
  });

  it('refuses a bad pad token or padding side', () => {
    expect(() => collatePreferencePairs(pairs, { padTokenId: -1, paddingSide: 'middle' as never })).toThrow(ConfigError);
    expect(() => collatePreferencePairs(pairs, { padTokenId: -1 })).toThrow(/padTokenId must be a non-negative integer, got -1/);
  });
});
