import { ConfigError, ShapeError } from '../errors/errors';
import { collateBatch } from './collate';

const examples = [
  { inputIds: [11, 12, 13], lossMask: [0, 0, 1] },
  { inputIds: [21, 22, 23, 24, 25], lossMask: [0, 1, 1, 1, 1] },
];

describe('collateBatch', () => {
  it('pads on the right', () => {
    expect(collateBatch(examples, { padTokenId: 9 })).toEqual({
      inputIds: [
        [11, 12, 13, 9, 9],
        [21, 22, 23, 24, 25],
      ],
      attentionMask: [
        [1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1],
      ],
      lossMask: [
        [0, 0, 1, 0, 0],
        [0, 1, 1, 1, 1],
      ],
      positionIds: [
        [0, 1, 2, 0, 0],
        [0, 1, 2, 3, 4],
      ],
    });
  });

  it('pads on the left with positions starting at 0 on the first real token', () => {
    const batch = collateBatch(examples, { padTokenId: 9, paddingSide: 'left' });
    expect(batch.inputIds[0]).toEqual([9, 9, 11, 12, 13]);
    expect(batch.attentionMask[0]).toEqual([0, 0, 1, 1, 1]);
    expect(batch.lossMask[0]).toEqual([0, 0, 0, 0, 1]);
    expect(batch.positionIds[0]).toEqual([0, 0, 0, 1, 2]);
    expect(batch.inputIds[1]).toEqual([21, 22, 23, 24, 25]);
  });

  it('rounds the width up to padToMultipleOf and truncates to maxLength', () => {
    expect(collateBatch(examples, { padTokenId: 0, padToMultipleOf: 4 }).inputIds[0]).toEqual([
      11, 12, 13, 0, 0, 0, 0, 0,
    ]);
    const cut = collateBatch(examples, { padTokenId: 0, maxLength: 4 });
    expect(cut.inputIds).toEqual([
      [11, 12, 13, 0],
      [21, 22, 23, 24],
    ]);
    const leftCut = collateBatch(examples, { padTokenId: 0, maxLength: 2, truncationSide: 'left' });
    expect(leftCut.inputIds).toEqual([
      [12, 13],
      [24, 25],
    ]);
    expect(leftCut.lossMask).toEqual([
      [0, 1],
      [0, 1],
    ]);
  });

  it('defaults the loss mask to every token but the first, and does not change its input', () => {
    const input = [{ inputIds: [5, 6, 7] }];
    const copy = JSON.parse(JSON.stringify(input)) as unknown;
    expect(collateBatch(input, { padTokenId: 0 }).lossMask).toEqual([[0, 1, 1]]);
    expect(input).toEqual(copy);
  });

  it('rejects a mask of the wrong length and bad options, listing every problem', () => {
    expect(() => collateBatch([{ inputIds: [1, 2], lossMask: [1] }], { padTokenId: 0 })).toThrow(ShapeError);
    expect(() =>
      collateBatch(examples, { padTokenId: -1, paddingSide: 'up' as never, padToMultipleOf: 3, maxLength: 8 }),
    ).toThrow(/padTokenId[\s\S]*paddingSide[\s\S]*multiple of padToMultipleOf/);
    expect(() => collateBatch(examples, { padTokenId: 0, maxLength: 0 })).toThrow(ConfigError);
  });
});
