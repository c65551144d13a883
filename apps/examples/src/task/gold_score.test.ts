import { DataError } from '@rlhfjs/core';
import { goldScore, judgeResponse, meanGoldScore } from './gold_score';
import { allTaskPrompts, parseTaskPrompt, tryParseTaskPrompt } from './task_prompts';

describe('goldScore rubric', () => {
  it.each([
    ['Add 23 and 48.', 'The answer is 71. Thank you!', 1],
    ['Add 23 and 48.', ' The answer is 71. Thank you!  ', 1],
    ['Add 23 and 48.', 'The answer is 71.', 0.5],
    ['Add 23 and 48.', '71', 0.5],
    ['Add 23 and 48.', '71, obviously.', 0.5],
    ['Add 23 and 48.', 'The answer is 71 Thank you!', 0.5], // missing full stop: badly formed
    ['Add 23 and 48.', 'The answer is 71. Thanks!', 0.5],
    ['Add 23 and 48.', 'Sure! The answer is 71. Thank you!', 0.5], // preamble: not well formed
    ['Add 23 and 48.', 'The answer is 70. Thank you!', 0],
    ['Add 23 and 48.', 'The answer is 711. Thank you!', 0],
    ['Add 23 and 48.', 'The answer is 70 71. Thank you!', 0], // only the first candidate counts
    ['Add 23 and 48.', '70 71 72', 0],
    ['Add 23 and 48.', '', 0],
    ['Add 23 and 48.', 'Thank you!', 0],
    ['What is 7 times 6?', 'The answer is 42. Thank you!', 1],
    ['What is 7 times 6?', 'The answer is 13. Thank you!', 0],
    ["Spell 'cat' backwards.", 'The answer is tac. Thank you!', 1],
    ["Spell 'cat' backwards.", 'The answer is cat. Thank you!', 0],
    ["Spell 'cat' backwards.", 'tac.', 0.5],
  ])('%s → %j scores %d', (prompt, response, expected) => {
    expect(goldScore(prompt, response)).toBe(expected);
  });

  it('reports the parts of the judgement', () => {
    expect(judgeResponse('Add 2 and 3.', 'The answer is 5.')).toEqual({ score: 0.5, expected: '5', answer: '5', correct: true, wellFormed: true, polite: false });
  });

  it('rejects prompts that are not task prompts', () => {
    expect(() => goldScore('Tell me a joke.', 'no')).toThrow(DataError);
    expect(tryParseTaskPrompt('Add two and three.')).toBeNull();
  });

  it('accepts every prompt of the task and its canonical answer', () => {
    const prompts = allTaskPrompts();
    expect(prompts).toHaveLength(21 * 21 + 8 * 8 + 40);
    for (const task of prompts) {
      expect(parseTaskPrompt(task.prompt)).toEqual(task);
      expect(goldScore(task.prompt, `The answer is ${task.answer}. Thank you!`)).toBe(1);
    }
  });

  it('averages over a batch and checks lengths', () => {
    expect(meanGoldScore(['Add 1 and 1.', 'Add 1 and 1.'], ['The answer is 2. Thank you!', '3'])).toBe(0.5);
    expect(() => meanGoldScore(['Add 1 and 1.'], [])).toThrow(/1 prompts but 0 completions/);
  });
});
