import { createRng } from '@rlhfjs/core';
import type { PreferenceExample } from '../../src/data/preference_pairs';

/**
 * A seeded preference corpus a tiny model can learn: prompt "a+b=" (a, b in 0..maxOperand ≤ 4), chosen = the correct sum,
 * rejected = a wrong digit. A share `flip` of the pairs has chosen and rejected swapped (label noise), which bounds
 * the accuracy measured against these labels at about 1 − flip.
 */
export function arithmeticPreferences(count: number, seed: number, flip: number, maxOperand = 4): { examples: PreferenceExample[]; clean: PreferenceExample[]; flipped: number } {
  const rng = createRng(seed);
  const examples: PreferenceExample[] = [];
  const clean: PreferenceExample[] = [];
  let flipped = 0;
  for (let index = 0; index < count; index++) {
    const a = Math.floor(rng.next() * (maxOperand + 1));
    const b = Math.floor(rng.next() * (maxOperand + 1));
    const correct = a + b;
    let wrong = Math.floor(rng.next() * 9);
    if (wrong === correct) wrong = (wrong + 1 + Math.floor(rng.next() * 8)) % 9;
    const pair = { prompt: `${a}+${b}=`, chosen: `${correct}`, rejected: `${wrong}` };
    clean.push(pair);
    if (rng.next() < flip) {
      flipped += 1;
      examples.push({ prompt: pair.prompt, chosen: pair.rejected, rejected: pair.chosen });
    } else examples.push(pair);
  }
  return { examples, clean, flipped };
}
