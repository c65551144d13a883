import { DataError } from '@rlhfjs/core';
import { goldScore, judgeResponse, meanGoldScore } from './gold_score';
import { allTaskPrompts, parseTaskPrompt, tryParseTaskPrompt } from './task_prompts';

describe('goldScore rubric', () => {
  it.each([
    ["Spell 'wolf' backwards.", 'The answer is flow. Thank you!', 1],
    ["Spell 'wolf' backwards.", ' The answer is flow. Thank you!  ', 1],
    ["Spell 'wolf' backwards.", 'The answer is flow.', 0.5],
    ["Spell 'wolf' backwards.", 'flow', 0.5],
    ["Spell 'wolf' backwards.", 'flow, obviously.', 0.5],
    ["Spell 'wolf' backwards.", 'The answer is flow Thank you!', 0.5], // missing full stop: badly formed
    ["Spell 'wolf' backwards.", 'The answer is flow. Thanks!', 0.5],
    ["Spell 'wolf' backwards.", 'Sure! The answer is flow. Thank you!', 0.5], // preamble: not well formed
    ["Spell 'wolf' backwards.", 'The answer is wolf. Thank you!', 0], // not reversed
    ["Spell 'wolf' backwards.", 'The answer is folw. Thank you!', 0],
    ["Spell 'wolf' backwards.", 'The answer is flows. Thank you!', 0],
    ["Spell 'wolf' backwards.", 'The answer is wolf flow. Thank you!', 0], // only the first candidate counts
    ["Spell 'wolf' backwards.", 'wolf flow', 0],
    ["Spell 'wolf' backwards.", '', 0],
    ["Spell 'wolf' backwards.", 'Thank you!', 0],
    ["Write 'cat' in capitals.", 'The answer is CAT. Thank you!', 1],
    ["Write 'cat' in capitals.", 'The answer is Cat. Thank you!', 0],
    ["Write 'cat' in capitals.", 'The answer is DOG. Thank you!', 0], // another word
    ["Write 'cat' with a capital first letter.", 'The answer is Cat. Thank you!', 1],
    ["Write 'cat' with a capital first letter.", 'The answer is CAT. Thank you!', 0],
    ["Write 'cat' with a capital first letter.", 'Cat.', 0.5],
  ])('%s → %j scores %d', (prompt, response, expected) => {
    expect(goldScore(prompt, response)).toBe(expected);
  });

  it('reports the parts of the judgement', () => {
    expect(judgeResponse("Write 'sun' in capitals.", 'The answer is SUN.')).toEqual({ score: 0.5, expected: 'SUN', answer: 'SUN', correct: true, wellFormed: true, polite: false });
  });

  it('rejects prompts that are not task prompts', () => {
    expect(() => goldScore('Tell me a joke.', 'no')).toThrow(DataError);
    expect(tryParseTaskPrompt('Add 2 and 3.')).toBeNull();
    expect(tryParseTaskPrompt("Write 'Cat' in capitals.")).toBeNull(); // words are lower-case
  });

  it('accepts every prompt of the task and its canonical answer', () => {
    const prompts = allTaskPrompts();
    expect(prompts).toHaveLength(3 * 40);
    expect(new Set(prompts.map((task) => task.prompt)).size).toBe(prompts.length);
    for (const task of prompts) {
      expect(parseTaskPrompt(task.prompt)).toEqual(task);
      expect(goldScore(task.prompt, `The answer is ${task.answer}. Thank you!`)).toBe(1);
    }
  });

  it('averages over a batch and checks lengths', () => {
    expect(meanGoldScore(["Spell 'cat' backwards.", "Spell 'cat' backwards."], ['The answer is tac. Thank you!', 'cat'])).toBe(0.5);
    expect(() => meanGoldScore(["Spell 'cat' backwards."], [])).toThrow(/1 prompts but 0 completions/);
  });
});
