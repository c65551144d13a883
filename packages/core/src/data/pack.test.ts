import { createRng } from './rng';
import { packExamples } from './pack';

describe('packExamples', () => {
  const a = { inputIds: [11, 12, 13], lossMask: [0, 1, 1] };
  const b = { inputIds: [21, 22, 23, 24, 25, 26], lossMask: [0, 0, 1, 1, 1, 1] };
  const c = { inputIds: [31, 32], lossMask: [1, 1] };

  it('packs first-fit with restarting positions, segment ids and no target across example boundaries', () => {
    const packed = packExamples([a, b, c], { seqLength: 8, padTokenId: 7 });
    // a (3) opens row 0; b (6) does not fit the 5 left, opens row 1; c (2) fits row 0.
    expect(packed.exampleIndices).toEqual([[0, 2], [1]]);
    expect(packed.inputIds).toEqual([
      [11, 12, 13, 31, 32, 7, 7, 7],
      [21, 22, 23, 24, 25, 26, 7, 7],
    ]);
    expect(packed.segmentIds).toEqual([
      [1, 1, 1, 2, 2, 0, 0, 0],
      [1, 1, 1, 1, 1, 1, 0, 0],
    ]);
    expect(packed.positionIds).toEqual([
      [0, 1, 2, 0, 1, 0, 0, 0],
      [0, 1, 2, 3, 4, 5, 0, 0],
    ]);
    // c's own mask says its first token is a target; packed, it would be predicted from a's last token, so 0.
    expect(packed.lossMask).toEqual([
      [0, 1, 1, 0, 1, 0, 0, 0],
      [0, 0, 1, 1, 1, 1, 0, 0],
    ]);
    expect(packed.attentionMask).toEqual([
      [1, 1, 1, 1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1, 1, 0, 0],
    ]);
  });

  it('cuts examples longer than seqLength and leaves out empty ones', () => {
    const packed = packExamples([{ inputIds: [] }, b, a], { seqLength: 4 });
    expect(packed.exampleIndices).toEqual([[1], [2]]);
    expect(packed.inputIds[0]).toEqual([21, 22, 23, 24]);
    expect(packed.lossMask[0]).toEqual([0, 0, 1, 1]);
  });

  it('matches a plain quadratic first-fit on random lengths', () => {
    const rng = createRng(3);
    const lengths = Array.from({ length: 300 }, () => 1 + rng.nextInt(64));
    const examples = lengths.map((length) => ({ inputIds: new Array<number>(length).fill(5) }));
    const rows: { free: number; members: number[] }[] = [];
    lengths.forEach((length, index) => {
      const row = rows.find((candidate) => candidate.free >= length);
      if (row === undefined) rows.push({ free: 64 - length, members: [index] });
      else {
        row.free -= length;
        row.members.push(index);
      }
    });
    const packed = packExamples(examples, { seqLength: 64 });
    expect(packed.exampleIndices).toEqual(rows.map((row) => row.members));
    for (const segmentIds of packed.segmentIds) expect(segmentIds).toHaveLength(64);
  });
});
