import { ConfigError } from '@rlhfjs/core';
import { numberOptions } from './option_spec';

describe('numberOptions', () => {
  it('returns each named number option under its own key', () => {
    expect(numberOptions({ batchSize: 8, seed: 0, output: 'out' }, ['batchSize', 'seed'])).toEqual({ batchSize: 8, seed: 0 });
  });

  it('refuses a key that is not a number with a ConfigError naming it', () => {
    expect(() => numberOptions({ batchSize: 8, seed: 'x' }, ['batchSize', 'seed'])).toThrow(ConfigError);
    expect(() => numberOptions({ batchSize: 8 }, ['batchSize', 'seed'])).toThrow(/option seed is not a number/);
  });
});
