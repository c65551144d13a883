/**
 * Packing: several short examples share one row of `seqLength` tokens, so no compute goes to padding.
 *
 * Greedy first-fit in input order: each example goes into the first row that still has room for it, else into a
 * new row (found in O(log rows) with a max-tree over the rows' free space). Examples longer than `seqLength` are
 * cut to their first `seqLength` tokens; empty examples are left out.
 *
 * Conventions, for every row [seqLength]:
 * - segmentIds: 1, 2, 3, … for the 1st, 2nd, 3rd example of the row, 0 on padding. A model must let a token attend
 *   only to earlier tokens of the same segment (block-diagonal causal attention) for packing to be exact.
 * - positionIds: restart at 0 at the start of each example; 0 on padding.
 * - lossMask: the example's own mask, except that the first token of every example is 0. With the convention
 *   that lossMask[t] = 1 means "token t is a target predicted from position t − 1", this means no token is ever
 *   trained as the continuation of the previous example. 0 on padding.
 * - attentionMask: 1 on every real token (of any segment), 0 on padding.
 * - exampleIndices: which input examples each row holds, in order.
 */
import { ConfigError, ShapeError } from '../errors/errors';
import type { CollateExample } from './collate';
import { checkLength } from './truncate';

export interface PackOptions {
  /** Length of every packed row. */
  readonly seqLength: number;
  /** The id written into padding; default 0 (padding is masked out everywhere). */
  readonly padTokenId?: number;
}

export interface PackConfig {
  readonly seqLength: number;
  readonly padTokenId: number;
}

/** Packed rows, every array [rows, seqLength] except exampleIndices. */
export interface PackedBatch {
  readonly inputIds: number[][];
  readonly attentionMask: number[][];
  readonly lossMask: number[][];
  readonly positionIds: number[][];
  readonly segmentIds: number[][];
  readonly exampleIndices: number[][];
}

export function resolvePackConfig(options: PackOptions): PackConfig {
  const config = { seqLength: options.seqLength, padTokenId: options.padTokenId ?? 0 };
  const problems: string[] = [];
  checkLength(config.seqLength, problems, 'seqLength', { nullable: false });
  if (!Number.isSafeInteger(config.padTokenId) || config.padTokenId < 0) {
    problems.push(`padTokenId must be a non-negative integer, got ${String(config.padTokenId)}`);
  }
  if (problems.length > 0) throw new ConfigError('packExamples', problems);
  return Object.freeze(config);
}

export function packExamples(examples: readonly CollateExample[], options: PackOptions): PackedBatch {
  const { seqLength, padTokenId } = resolvePackConfig(options);

  // First pass: which row each example goes into.
  const free = new FirstFitTree(Math.max(1, examples.length), seqLength);
  const exampleIndices: number[][] = [];
  examples.forEach((example, exampleIndex) => {
    const maskLength = example.lossMask?.length ?? example.inputIds.length;
    if (maskLength !== example.inputIds.length) {
      throw new ShapeError(
        `packExamples: example ${exampleIndex} has ${example.inputIds.length} inputIds but ${maskLength} lossMask entries`,
      );
    }
    const length = Math.min(example.inputIds.length, seqLength);
    if (length === 0) return;
    const row = free.take(length);
    if (row === exampleIndices.length) exampleIndices.push([]);
    (exampleIndices[row] as number[]).push(exampleIndex);
  });

  // Second pass: write the rows, padding already in place.
  const packed: PackedBatch = {
    inputIds: [],
    attentionMask: [],
    lossMask: [],
    positionIds: [],
    segmentIds: [],
    exampleIndices,
  };
  for (const members of exampleIndices) {
    const inputIds = new Array<number>(seqLength).fill(padTokenId); // [seqLength]
    const attentionMask = new Array<number>(seqLength).fill(0); // [seqLength]
    const lossMask = new Array<number>(seqLength).fill(0); // [seqLength]
    const positionIds = new Array<number>(seqLength).fill(0); // [seqLength]
    const segmentIds = new Array<number>(seqLength).fill(0); // [seqLength]
    let offset = 0;
    members.forEach((exampleIndex, memberIndex) => {
      const example = examples[exampleIndex] as CollateExample;
      const length = Math.min(example.inputIds.length, seqLength);
      for (let position = 0; position < length; position += 1) {
        const column = offset + position;
        inputIds[column] = example.inputIds[position] as number;
        attentionMask[column] = 1;
        // The first token of an example is never a target: it would be predicted from the previous example.
        lossMask[column] =
          position === 0 ? 0 : example.lossMask === undefined ? 1 : (example.lossMask[position] as number);
        positionIds[column] = position;
        segmentIds[column] = memberIndex + 1;
      }
      offset += length;
    });
    packed.inputIds.push(inputIds);
    packed.attentionMask.push(attentionMask);
    packed.lossMask.push(lossMask);
    packed.positionIds.push(positionIds);
    packed.segmentIds.push(segmentIds);
  }
  return packed;
}

/**
 * Free space of up to `capacity` rows (all start empty, with `seqLength` free) in a max-tree, so that the first
 * row with at least n free tokens is found in O(log capacity). Rows never opened sit after all opened ones with
 * full space, so "the first row that fits" is an opened row when one fits, else the next new row.
 */
class FirstFitTree {
  private readonly leaves: number;
  private readonly tree: Float64Array;

  constructor(capacity: number, seqLength: number) {
    let leaves = 1;
    while (leaves < capacity) leaves *= 2;
    this.leaves = leaves;
    this.tree = new Float64Array(2 * leaves).fill(seqLength);
  }

  /** Takes `length` tokens from the first row with room; returns the row. */
  take(length: number): number {
    let node = 1;
    while (node < this.leaves) {
      node = (this.tree[2 * node] as number) >= length ? 2 * node : 2 * node + 1;
    }
    const row = node - this.leaves;
    this.tree[node] = (this.tree[node] as number) - length;
    for (node = Math.floor(node / 2); node >= 1; node = Math.floor(node / 2)) {
      this.tree[node] = Math.max(this.tree[2 * node] as number, this.tree[2 * node + 1] as number);
    }
    return row;
  }
}
