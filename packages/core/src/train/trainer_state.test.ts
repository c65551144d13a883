import { CheckpointError } from '../errors/errors';
import { parseTrainerState, TRAINER_STATE_ERROR_CODES } from './trainer_state';

const FILE = '/runs/out/checkpoint-4/trainer_state.json';
const valid = { step: 4, consumed: 32, seed: 42, extra: null };

function failure(text: string): CheckpointError {
  try {
    parseTrainerState(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error(`parseTrainerState accepted ${text}`);
}

describe('parseTrainerState', () => {
  it('returns the four fields of a valid state (extra may be anything)', () => {
    expect(parseTrainerState(JSON.stringify(valid), FILE)).toEqual(valid);
    expect(parseTrainerState(JSON.stringify({ ...valid, extra: { klCoefficient: 0.1 } }), FILE).extra).toEqual({ klCoefficient: 0.1 });
  });

  it.each([
    ['step "abc"', { ...valid, step: 'abc' }, /field "step" must be a non-negative integer, got "abc"/],
    ['step null', { ...valid, step: null }, /field "step" must be a non-negative integer, got null/],
    ['step negative', { ...valid, step: -3 }, /field "step" must be a non-negative integer, got -3/],
    ['step fractional', { ...valid, step: 2.5 }, /field "step" must be a non-negative integer, got 2\.5/],
    ['consumed fractional', { ...valid, consumed: 0.5 }, /field "consumed" must be a non-negative integer, got 0\.5/],
    ['consumed a string', { ...valid, consumed: '8' }, /field "consumed" must be a non-negative integer, got "8"/],
    ['seed fractional', { ...valid, seed: 1.5 }, /field "seed" must be an integer, got 1\.5/],
    ['step beyond a safe integer', { ...valid, step: 1e300 }, /field "step"/],
    ['extra missing', { step: 4, consumed: 32, seed: 42 }, /field "extra" is missing/],
  ])('%s is a CheckpointError naming the file and the field', (_, state, pattern) => {
    const error = failure(JSON.stringify(state));
    expect(error.code).toBe(TRAINER_STATE_ERROR_CODES.invalid);
    expect(error.message).toContain(FILE);
    expect(error.message).toMatch(pattern);
  });

  it('{} names every missing field at once', () => {
    const error = failure('{}');
    expect(error.message).toContain(FILE);
    for (const field of ['step', 'consumed', 'seed', 'extra']) expect(error.message).toContain(`field "${field}" is missing`);
  });

  it.each([
    ['not JSON', '{"step": 4,', /not valid JSON/],
    ['an array', '[4, 32]', /expected a JSON object/],
    ['null', 'null', /expected a JSON object.*got null/],
    ['a number', '7', /expected a JSON object.*got 7/],
  ])('%s is a CheckpointError naming the file', (_, text, pattern) => {
    const error = failure(text);
    expect(error.message).toContain(FILE);
    expect(error.message).toMatch(pattern);
  });
});
