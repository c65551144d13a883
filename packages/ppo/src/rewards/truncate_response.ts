import { ShapeError } from '@rlhfjs/core';

export interface TruncatedResponses {
  /** Ids with every token after the first stop token replaced by `padTokenId` (unchanged when none is given). */
  readonly ids: number[][];
  /** 1 up to and including the first stop token (within the original mask), 0 after it. */
  readonly mask: number[][];
  /** Whether each row contains the stop token inside its mask (false rows get TRL's missing-EOS penalty). */
  readonly hasStopToken: boolean[];
}

/**
 * TRL's `truncate_response`: keep each response up to and including its first stop token and mask out
 * everything after it. Plain arrays [B][T]; the caller's arrays are not modified.
 */
export function truncateAtStopToken(
  ids: readonly (readonly number[])[],
  mask: readonly (readonly number[])[],
  stopTokenId: number,
  padTokenId?: number,
): TruncatedResponses {
  if (ids.length !== mask.length || ids.some((row, index) => row.length !== mask[index]?.length)) {
    throw new ShapeError(
      `truncateAtStopToken: ids [${ids.map((row) => row.length).join(', ')}] and mask [${mask
        .map((row) => row.length)
        .join(', ')}] (row lengths) differ`,
    );
  }
  const outIds: number[][] = [];
  const outMask: number[][] = [];
  const hasStopToken: boolean[] = [];
  ids.forEach((row, rowIndex) => {
    const rowMask = mask[rowIndex] as readonly number[];
    const stopAt = row.findIndex((id, position) => id === stopTokenId && rowMask[position] !== 0);
    hasStopToken.push(stopAt >= 0);
    outIds.push(row.map((id, position) => (stopAt >= 0 && position > stopAt && padTokenId !== undefined ? padTokenId : id)));
    outMask.push(rowMask.map((value, position) => (stopAt >= 0 && position > stopAt ? 0 : value)));
  });
  return { ids: outIds, mask: outMask, hasStopToken };
}
