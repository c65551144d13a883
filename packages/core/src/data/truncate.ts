import { ConfigError, ShapeError } from '../errors/errors';

export type TruncationSide = 'right' | 'left';

/** Token ids with their loss mask (see `sft_tokenize.ts` for what the mask means). */
export interface MaskedTokens {
  readonly inputIds: readonly number[];
  readonly lossMask: readonly number[];
}

/**
 * Cuts `tokens` to at most `maxLength` tokens: 'right' keeps the first ones, 'left' the last ones. After a left
 * cut the new first token has no token before it to be predicted from, so its loss mask becomes 0. Returns new
 * arrays; the input is never changed.
 */
export function truncateTokens(
  tokens: MaskedTokens,
  maxLength: number,
  side: TruncationSide,
): { inputIds: number[]; lossMask: number[]; truncated: boolean } {
  if (tokens.inputIds.length !== tokens.lossMask.length) {
    throw new ShapeError(
      `truncateTokens: inputIds has ${tokens.inputIds.length} tokens but lossMask has ${tokens.lossMask.length}`,
    );
  }
  const length = tokens.inputIds.length;
  if (length <= maxLength) return { inputIds: [...tokens.inputIds], lossMask: [...tokens.lossMask], truncated: false };
  switch (side) {
    case 'right':
      return {
        inputIds: tokens.inputIds.slice(0, maxLength),
        lossMask: tokens.lossMask.slice(0, maxLength),
        truncated: true,
      };
    case 'left': {
      const inputIds = tokens.inputIds.slice(length - maxLength);
      const lossMask = tokens.lossMask.slice(length - maxLength);
      if (lossMask.length > 0) lossMask[0] = 0;
      return { inputIds, lossMask, truncated: true };
    }
    default: {
      const unreachable: never = side;
      throw new ConfigError('truncateTokens', [`side must be "right" or "left", got ${String(unreachable)}`]);
    }
  }
}

export function checkTruncationSide(value: unknown, problems: string[], name = 'truncationSide'): void {
  if (value !== 'right' && value !== 'left')
    problems.push(`${name} must be "right" or "left", got ${JSON.stringify(value)}`);
}

export function checkLength(value: unknown, problems: string[], name: string, options: { nullable: boolean }): void {
  if (value === null && options.nullable) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    problems.push(`${name} must be a positive integer${options.nullable ? ' or null' : ''}, got ${String(value)}`);
  }
}
