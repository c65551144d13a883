import { createRng } from '@rlhfjs/core';
import { goldScore } from './gold_score';
import { RESPONSE_STYLES, styledResponse, wrongAnswer } from './response_styles';
import { allTaskPrompts, TASK_WORDS, taskPrompt, titleCase } from './task_prompts';

describe('wrongAnswer', () => {
  it('is never the right answer, for every prompt of the task', () => {
    const rng = createRng(11);
    for (const task of allTaskPrompts()) for (let draw = 0; draw < 20; draw++) expect(wrongAnswer(task, rng)).not.toBe(task.answer);
  });

  it('draws the documented mistakes: a wrong transform of the word, or the right transform of another word', () => {
    const rng = createRng(5);
    const seen = new Set<string>();
    const task = taskPrompt('upper', 'wolf');
    for (let draw = 0; draw < 400; draw++) seen.add(wrongAnswer(task, rng));
    for (const expected of ['wolf', 'Wolf', 'WLOF', 'OWLF', 'WOFL']) expect(seen).toContain(expected);
    const otherWords = [...seen].filter((answer) => TASK_WORDS.some((word) => word !== 'wolf' && word.toUpperCase() === answer));
    expect(otherWords.length).toBeGreaterThan(10);
    for (const answer of seen) {
      const isOther = otherWords.includes(answer);
      const isVariant = ['wolf', 'Wolf', 'WLOF', 'OWLF', 'WOFL'].includes(answer);
      expect(isOther || isVariant).toBe(true);
    }
    expect(titleCase('egg')).toBe('Egg');
  });

  it('gives each style the gold score its name promises', () => {
    const rng = createRng(2);
    const expected = { ideal: 1, impolite: 0.5, terse: 0.5, curt: 0.5, wrong_polite: 0, wrong_terse: 0 };
    for (const task of allTaskPrompts()) {
      for (const style of RESPONSE_STYLES) expect(goldScore(task.prompt, styledResponse(task, style, rng))).toBe(expected[style]);
    }
  });
});
