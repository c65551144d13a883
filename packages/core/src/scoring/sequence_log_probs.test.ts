import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { loadCausalLM } from '../model/model_factory';
import { ShapeError } from '../errors/errors';
import { sequenceLogProbs, tokenLogProbsFromLogits } from './sequence_log_probs';

const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures', 'models');

describe('sequenceLogProbs', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches the PyTorch reference log-probs at real tokens', async () => {
    for (const name of ['gpt2', 'llama']) {
      const expected = JSON.parse(await fs.readFile(path.join(FIXTURES, name, 'expected.json'), 'utf8')) as {
        inputIds: number[][];
        attentionMask: number[][];
        sequenceLogProbs: number[][];
      };
      const model = await loadCausalLM(path.join(FIXTURES, name));
      const inputIds = tf.tensor2d(expected.inputIds, undefined, 'int32');
      const attentionMask = tf.tensor2d(expected.attentionMask, undefined, 'int32');
      const before = tf.memory().numTensors;
      const logProbs = sequenceLogProbs(model, { inputIds, attentionMask });
      const actual = (await logProbs.array()) as number[][];
      logProbs.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expected.sequenceLogProbs.forEach((row, b) =>
        row.forEach((value, t) => {
          // a target at t+1 predicted from a real token at t
          if (expected.attentionMask[b]?.[t] === 1 && expected.attentionMask[b]?.[t + 1] === 1) {
            expect(Math.abs((actual[b]?.[t] ?? Number.NaN) - value)).toBeLessThan(1e-4);
          }
        }),
      );
      tf.dispose([inputIds, attentionMask]);
      model.dispose();
    }
  });

  it('is a normalised log-softmax: exp sums to one over the vocabulary, and temperature scales logits', () => {
    const logits = tf.tensor3d([[[1, 2, 3], [0, 0, 0], [5, -5, 0]]]); // [1, 3, 3]
    const ids = tf.tensor2d([[0, 2, 1]], [1, 3], 'int32');
    const logProbs = tokenLogProbsFromLogits(logits, ids).arraySync()[0] as number[];
    // analytic: log softmax([1,2,3])[2] and log softmax([0,0,0])[1]
    expect(logProbs[0]).toBeCloseTo(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)), 6);
    expect(logProbs[1]).toBeCloseTo(-Math.log(3), 6);
    const hot = tokenLogProbsFromLogits(logits, ids, 2).arraySync()[0] as number[];
    expect(hot[0]).toBeCloseTo(1.5 - Math.log(Math.exp(0.5) + Math.exp(1) + Math.exp(1.5)), 6);
    tf.dispose([logits, ids]);
  });

  it('names the position of a token id outside the vocabulary instead of scoring it silently', () => {
    const logits = tf.zeros([1, 3, 4]) as tf.Tensor3D;
    const ids = tf.tensor2d([[0, 2, 4]], [1, 3], 'int32');
    expect(() => tokenLogProbsFromLogits(logits, ids)).toThrow(ShapeError);
    expect(() => tokenLogProbsFromLogits(logits, ids)).toThrow(/inputIds\[0\]\[2\] = 4.*\[0, 4\)/);
    tf.dispose([logits, ids]);
  });
});
