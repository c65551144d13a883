import { ConfigError, DataError, DistError, RlhfError } from './errors';

describe('error hierarchy', () => {
  it('keeps code, cause and class name', () => {
    const cause = new Error('inner');
    const error = new DistError('PEER_LOST', 'allReduce: peer 2 closed its socket', { cause, peer: 2 });
    expect(error).toBeInstanceOf(RlhfError);
    expect(error.code).toBe('PEER_LOST');
    expect(error.peer).toBe(2);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('DistError');
  });

  it('collects every config problem', () => {
    const error = new ConfigError('resolveTrainerConfig', ['lr must be > 0, got -1', 'maxSteps must be an integer']);
    expect(error.problems).toHaveLength(2);
    expect(error.message).toContain('lr must be > 0');
    expect(error.message).toContain('maxSteps must be an integer');
  });

  it('names file, line and field for data errors', () => {
    const error = new DataError('expected a string', { file: 'a.jsonl', line: 3, field: 'prompt' });
    expect(error.message).toBe('a.jsonl, line 3, field "prompt": expected a string');
    expect(error.line).toBe(3);
  });
});
