import * as tf from '@tensorflow/tfjs';
import { createCausalLM, loadTokenizer, type Tokenizer } from '@rlhfjs/core';
import * as path from 'path';
import { promises as fs } from 'fs';
import { REFERENCE_MODEL_CONFIG, TASK_MODEL_CONFIG } from './model_config';
import { allTaskPrompts } from './task_prompts';
import { EOS_TOKEN, PAD_TOKEN, TASK_VOCAB_SIZE, trainTaskTokenizer } from './task_tokenizer';

const assets = path.join(__dirname, '..', '..', 'assets', 'tokenizer');

describe('task tokenizer (committed assets)', () => {
  let tokenizer: Tokenizer;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    tokenizer = await loadTokenizer(assets);
  });

  it('has the special tokens, vocabulary size and padding side of its config', () => {
    expect(tokenizer.vocabSize).toBe(TASK_VOCAB_SIZE);
    expect(tokenizer.eosTokenId).toBe(0);
    expect(tokenizer.bosTokenId).toBe(0);
    expect(tokenizer.padTokenId).toBe(1);
    expect(tokenizer.decode([0, 1])).toBe(`${EOS_TOKEN}${PAD_TOKEN}`);
    expect(tokenizer.paddingSide).toBe('right');
  });

  it('round-trips every task text and keeps it short', () => {
    for (const task of allTaskPrompts()) {
      for (const text of [`${task.prompt} The answer is ${task.answer}. Thank you!`, `${task.prompt} ${task.answer}, obviously.`]) {
        const ids = tokenizer.encode(text);
        expect(tokenizer.decode(ids)).toBe(text);
        expect(ids.length).toBeLessThanOrEqual(24);
      }
    }
    const odd = 'Ünïcode ✓ and 12345 <b>x</b>';
    expect(tokenizer.decode(tokenizer.encode(odd))).toBe(odd);
  });

  it('splits numbers into single digits', () => {
    const ids = tokenizer.encode('1234');
    expect(ids).toHaveLength(4);
    expect(ids.map((id) => tokenizer.decode([id]))).toEqual(['1', '2', '3', '4']);
  });

  it('renders the chat template as prompt + " " + completion + EOS', () => {
    const text = tokenizer.applyChatTemplate([
      { role: 'user', content: "Spell 'cat' backwards." },
      { role: 'assistant', content: 'The answer is tac. Thank you!' },
    ]);
    expect(text).toBe(`Spell 'cat' backwards. The answer is tac. Thank you!${EOS_TOKEN}`);
  });

  it('is what train_tokenizer.ts produces from the same corpus pieces (deterministic training)', async () => {
    const committed = JSON.parse(await fs.readFile(path.join(assets, 'tokenizer.json'), 'utf8')) as { model: { merges: unknown[] } };
    const corpus = allTaskPrompts().map((task) => `${task.prompt} The answer is ${task.answer}. Thank you!`);
    const a = trainTaskTokenizer(corpus).tokenizerJson;
    const b = trainTaskTokenizer(corpus).tokenizerJson;
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(committed.model.merges.length).toBeGreaterThan(200);
  });

  it('fits the task model config, which builds and runs', () => {
    expect(TASK_MODEL_CONFIG.vocabSize).toBe(tokenizer.vocabSize);
    expect(REFERENCE_MODEL_CONFIG).toMatchObject({ numLayers: 4, hiddenSize: 256, numHeads: 4, vocabSize: 1024, maxPositions: 128 });
    const model = createCausalLM(TASK_MODEL_CONFIG, { seed: 1 });
    try {
      const ids = tokenizer.encode("Write 'cat' in capitals. The answer is CAT.");
      const logits = tf.tidy(() => {
        const out = model.forward({ inputIds: tf.tensor2d([ids], undefined, 'int32') });
        return out.logits?.shape;
      });
      expect(logits).toEqual([1, ids.length, TASK_VOCAB_SIZE]);
    } finally {
      model.dispose();
    }
  });
});
