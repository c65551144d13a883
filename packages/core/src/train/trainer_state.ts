import { CheckpointError } from '../errors/errors';

/** What a trainer checkpoint holds besides parameters and optimizer state (`trainer_state.json`). */
export interface TrainerState {
  /** Optimizer steps done. */
  step: number;
  /** Examples consumed so far (the data position); the epoch order is derived from the seed. */
  consumed: number;
  seed: number;
  /** Trainer-specific state (KL controller, RNG, running means); null when the trainer keeps none. */
  extra: unknown;
}

/** Error codes of a `trainer_state.json` that cannot be used. */
export const TRAINER_STATE_ERROR_CODES = Object.freeze({
  /** Not JSON, not an object, or a field missing or of the wrong kind. */
  invalid: 'CHECKPOINT_TRAINER_STATE',
  /** Valid on its own, but not for this run (step beyond the run's total, name and step disagree). */
  mismatch: 'CHECKPOINT_TRAINER_STATE_MISMATCH',
});

/**
 * Parses and validates the text of a `trainer_state.json`: `step`, `consumed` (non-negative safe integers), `seed`
 * (a safe integer) and `extra` (present, any JSON). Anything else is a CheckpointError naming `file` and the field,
 * never a silent fresh start or a TypeError later.
 */
export function parseTrainerState(text: string, file: string): TrainerState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`${file}: not valid JSON (${(cause as Error).message})`, { cause, code: TRAINER_STATE_ERROR_CODES.invalid });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CheckpointError(`${file}: expected a JSON object with step, consumed, seed and extra, got ${describe(value)}`, { code: TRAINER_STATE_ERROR_CODES.invalid });
  }
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  const integer = (field: 'step' | 'consumed' | 'seed', minimum: number | null): number => {
    const entry = record[field];
    if (!(field in record)) problems.push(`field "${field}" is missing`);
    else if (typeof entry !== 'number' || !Number.isSafeInteger(entry) || (minimum !== null && entry < minimum)) {
      problems.push(`field "${field}" must be ${minimum === null ? 'an' : 'a non-negative'} integer, got ${describe(entry)}`);
    }
    return entry as number;
  };
  const step = integer('step', 0);
  const consumed = integer('consumed', 0);
  const seed = integer('seed', null);
  if (!('extra' in record)) problems.push('field "extra" is missing (null when the trainer keeps no extra state)');
  if (problems.length > 0) throw new CheckpointError(`${file}: ${problems.join('; ')}`, { code: TRAINER_STATE_ERROR_CODES.invalid });
  return { step, consumed, seed, extra: record['extra'] };
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
