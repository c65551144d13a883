import { ConfigError } from '../errors/errors';
import { parseRecord } from './parse_record';
import { generateArithmeticCorpus } from './synthetic_corpus';

describe('generateArithmeticCorpus', () => {
  it('is deterministic given the seed and differs across seeds', () => {
    const first = generateArithmeticCorpus({ seed: 1, count: 50 });
    expect(generateArithmeticCorpus({ seed: 1, count: 50 })).toEqual(first);
    expect(generateArithmeticCorpus({ seed: 2, count: 50 })).not.toEqual(first);
    // A longer corpus from the same seed starts with the shorter one.
    expect(generateArithmeticCorpus({ seed: 1, count: 80 }).slice(0, 50)).toEqual(first);
  });

  it('writes questions whose completions are the right answers', () => {
    const records = generateArithmeticCorpus({ seed: 7, count: 300, maxOperand: 12 });
    const seen = new Set<string>();
    for (const record of records) {
      const match = /^What is (\d+) ([-+*]) (\d+)\?$/.exec(record.prompt);
      expect(match).not.toBeNull();
      const [, left, operation, right] = match as unknown as [string, string, string, string];
      seen.add(operation);
      const [a, b] = [Number(left), Number(right)];
      expect(a).toBeLessThanOrEqual(12);
      expect(b).toBeLessThanOrEqual(12);
      const answer = operation === '+' ? a + b : operation === '-' ? a - b : a * b;
      expect(record.completion).toBe(` ${answer}.`);
      // Each record is a valid prompt–completion record as loaded from disk.
      expect(parseRecord({ prompt: record.prompt, completion: record.completion })).toEqual(record);
    }
    expect([...seen].sort()).toEqual(['*', '+', '-']);
  });

  it('uses only the operations asked for and rejects bad options', () => {
    const sums = generateArithmeticCorpus({ seed: 3, count: 40, operations: ['+'] });
    expect(sums.every((record) => record.prompt.includes(' + '))).toBe(true);
    expect(() => generateArithmeticCorpus({ seed: 0.5, count: -1, operations: [] })).toThrow(ConfigError);
  });
});
