import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import golden from '../../test/fixtures/dpo_losses.json';
import { dpoLoss, type DpoLossInputs } from './dpo_loss';
import { DPO_LOSS_TYPES, resolveDpoLossConfig, type DpoLossOptions, type DpoLossType } from './dpo_loss_config';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** |actual − expected| ≤ 1e-5 · max(1, |expected|), element by element. */
function expectClose(actual: ArrayLike<number>, expected: readonly number[], label: string): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, index) => {
    const got = actual[index] as number;
    const tolerance = 1e-5 * Math.max(1, Math.abs(value));
    if (!(Math.abs(got - value) <= tolerance)) {
      throw new Error(`${label}[${index}]: expected ${value}, got ${got}`);
    }
  });
}

function goldenInputs(): DpoLossInputs {
  const inputs = golden.inputs;
  return {
    policyChosenLogps: tf.tensor1d(inputs.policyChosenLogps),
    policyRejectedLogps: tf.tensor1d(inputs.policyRejectedLogps),
    referenceChosenLogps: tf.tensor1d(inputs.referenceChosenLogps),
    referenceRejectedLogps: tf.tensor1d(inputs.referenceRejectedLogps),
    chosenLengths: tf.tensor1d(inputs.chosenLengths),
    rejectedLengths: tf.tensor1d(inputs.rejectedLengths),
    chosenNll: tf.tensor1d(inputs.chosenNll),
  };
}

function disposeInputs(inputs: DpoLossInputs): void {
  tf.dispose(Object.values(inputs).filter((value): value is tf.Tensor => value instanceof tf.Tensor));
}

/** Gradient of the mean loss with respect to the policy's chosen and rejected log-probs. */
function policyGradients(inputs: DpoLossInputs, options: DpoLossOptions, bcoRewardMean?: number): [Float32Array, Float32Array] {
  const config = resolveDpoLossConfig(options);
  const gradientFunction = tf.grads((chosen: tf.Tensor, rejected: tf.Tensor) => {
    const result = dpoLoss(
      { ...inputs, policyChosenLogps: chosen as tf.Tensor1D, policyRejectedLogps: rejected as tf.Tensor1D, bcoRewardMean },
      config,
    );
    return result.loss;
  });
  const [chosenGradient, rejectedGradient] = gradientFunction([inputs.policyChosenLogps, inputs.policyRejectedLogps]);
  const values: [Float32Array, Float32Array] = [
    chosenGradient!.dataSync() as Float32Array,
    rejectedGradient!.dataSync() as Float32Array,
  ];
  tf.dispose([chosenGradient!, rejectedGradient!]);
  return values;
}

describe('dpoLoss against the PyTorch goldens (tools/golden/dpo_losses.py)', () => {
  const covered = new Set<string>();
  for (const goldenCase of golden.cases) {
    const options = goldenCase.options as DpoLossOptions & { bcoRewardMean?: number };
    const types = typeof options.lossType === 'string' ? [options.lossType] : (options.lossType ?? []).map((term) => term.type);
    types.forEach((type) => covered.add(type));

    test(goldenCase.name, () => {
      const inputs = goldenInputs();
      const { bcoRewardMean, ...lossOptions } = options;
      const config = resolveDpoLossConfig(lossOptions);
      // Validate per-type input needs: the reference-free and length-agnostic cases get only what they need.
      const result = dpoLoss({ ...inputs, bcoRewardMean }, config);
      expectClose(result.losses.dataSync(), goldenCase.losses, 'losses');
      expectClose([result.loss.dataSync()[0] as number], [goldenCase.loss], 'loss');
      expectClose(result.chosenRewards.dataSync(), goldenCase.chosenRewards, 'chosenRewards');
      expectClose(result.rejectedRewards.dataSync(), goldenCase.rejectedRewards, 'rejectedRewards');
      for (const [name, value] of Object.entries(goldenCase.metrics)) {
        expectClose([result.metrics[name as keyof typeof result.metrics]], [value], name);
      }
      const [chosenGradient, rejectedGradient] = policyGradients(inputs, lossOptions, bcoRewardMean);
      expectClose(chosenGradient, goldenCase.gradPolicyChosen, 'd loss / d policyChosen');
      expectClose(rejectedGradient, goldenCase.gradPolicyRejected, 'd loss / d policyRejected');
      tf.dispose([result.losses, result.loss, result.chosenRewards, result.rejectedRewards]);
      disposeInputs(inputs);
    });
  }

  test('the goldens cover every loss type', () => {
    expect([...covered].sort()).toEqual([...DPO_LOSS_TYPES].sort());
  });
});

describe('dpoLoss analytic properties', () => {
  test('policy = reference gives ln 2 for sigmoid, per pair, whatever beta', () => {
    for (const beta of [0.1, 1, 5]) {
      const logps = tf.tensor1d([-3, -10, -0.5]);
      const rejected = tf.tensor1d([-7, -2, -4]);
      const result = dpoLoss(
        {
          policyChosenLogps: logps,
          policyRejectedLogps: rejected,
          referenceChosenLogps: logps,
          referenceRejectedLogps: rejected,
        },
        resolveDpoLossConfig({ beta }),
      );
      expectClose(result.losses.dataSync(), [Math.LN2, Math.LN2, Math.LN2], 'losses');
      expect(result.metrics['rewards/margins']).toBe(0);
      expect(result.metrics['rewards/accuracies']).toBe(0);
      tf.dispose([logps, rejected, result.losses, result.loss, result.chosenRewards, result.rejectedRewards]);
    }
  });

  test('beta → 0 gives ln 2 for sigmoid even when policy and reference differ', () => {
    const inputs = goldenInputs();
    const result = dpoLoss(inputs, resolveDpoLossConfig({ beta: 1e-9 }));
    expectClose(result.losses.dataSync(), new Array(6).fill(Math.LN2), 'losses');
    tf.dispose([result.losses, result.loss, result.chosenRewards, result.rejectedRewards]);
    disposeInputs(inputs);
  });

  test.each<[DpoLossType, number]>([
    ['sigmoid', 0.1],
    ['ipo', 0.1],
    ['hinge', 0.01],
  ])('%s: raising the chosen log-prob lowers the loss, raising the rejected one raises it', (lossType, beta) => {
    // Small margins so that hinge is active on every pair.
    const inputs: DpoLossInputs = {
      policyChosenLogps: tf.tensor1d([-5, -8, -3]),
      policyRejectedLogps: tf.tensor1d([-6, -7, -3.5]),
      referenceChosenLogps: tf.tensor1d([-5.5, -7, -3]),
      referenceRejectedLogps: tf.tensor1d([-6, -7.5, -3]),
      chosenLengths: tf.tensor1d([5, 8, 3]),
      rejectedLengths: tf.tensor1d([6, 7, 4]),
    };
    const [chosenGradient, rejectedGradient] = policyGradients(inputs, { lossType, beta });
    chosenGradient.forEach((value) => expect(value).toBeLessThan(0));
    rejectedGradient.forEach((value) => expect(value).toBeGreaterThan(0));
    disposeInputs(inputs);
  });

  test('hinge has zero loss and zero gradient where β·margin ≥ 1', () => {
    const inputs: DpoLossInputs = {
      policyChosenLogps: tf.tensor1d([-1, -5]),
      policyRejectedLogps: tf.tensor1d([-30, -5]),
      referenceChosenLogps: tf.tensor1d([-5, -5]),
      referenceRejectedLogps: tf.tensor1d([-5, -5]),
    };
    const result = dpoLoss(inputs, resolveDpoLossConfig({ lossType: 'hinge', beta: 0.1 }));
    expectClose(result.losses.dataSync(), [0, 1], 'losses');
    const [chosenGradient] = policyGradients(inputs, { lossType: 'hinge', beta: 0.1 });
    expectClose(chosenGradient, [0, -0.05], 'd loss / d policyChosen');
    tf.dispose([result.losses, result.loss, result.chosenRewards, result.rejectedRewards]);
    disposeInputs(inputs);
  });

  test('rewards carry no gradient: no path leads from the policy log-probs to them', () => {
    const inputs = goldenInputs();
    const config = resolveDpoLossConfig({});
    const gradientOfRewards = tf.grad((chosen: tf.Tensor) => {
      const result = dpoLoss({ ...inputs, policyChosenLogps: chosen as tf.Tensor1D }, config);
      return tf.sum(result.chosenRewards);
    });
    expect(() => gradientOfRewards(inputs.policyChosenLogps)).toThrow(/Cannot compute gradient/);
    disposeInputs(inputs);
  });

  test('does not leak tensors', () => {
    const inputs = goldenInputs();
    const config = resolveDpoLossConfig({ lossType: [{ type: 'aot', weight: 1 }, { type: 'orpo', weight: 0.5 }, { type: 'bco_pair' }] });
    const run = (): void => {
      const result = dpoLoss(inputs, config);
      tf.dispose([result.losses, result.loss, result.chosenRewards, result.rejectedRewards]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let index = 0; index < 3; index += 1) run();
    expect(tf.memory().numTensors).toBe(before);
    disposeInputs(inputs);
  });
});

describe('dpoLoss input checks', () => {
  test('missing reference log-probs for a reference-based type is a ConfigError', () => {
    const chosen = tf.tensor1d([-1, -2]);
    const rejected = tf.tensor1d([-3, -4]);
    expect(() => dpoLoss({ policyChosenLogps: chosen, policyRejectedLogps: rejected }, resolveDpoLossConfig({}))).toThrow(
      ConfigError,
    );
    // ...but fine when reference-free.
    const result = dpoLoss({ policyChosenLogps: chosen, policyRejectedLogps: rejected }, resolveDpoLossConfig({ referenceFree: true }));
    tf.dispose([chosen, rejected, result.losses, result.loss, result.chosenRewards, result.rejectedRewards]);
  });

  test('length-normalised types need lengths; orpo needs chosenNll', () => {
    const chosen = tf.tensor1d([-1, -2]);
    const rejected = tf.tensor1d([-3, -4]);
    expect(() =>
      dpoLoss({ policyChosenLogps: chosen, policyRejectedLogps: rejected }, resolveDpoLossConfig({ lossType: 'simpo' })),
    ).toThrow(/chosenLengths/);
    const lengths = tf.tensor1d([2, 2]);
    expect(() =>
      dpoLoss(
        { policyChosenLogps: chosen, policyRejectedLogps: rejected, chosenLengths: lengths, rejectedLengths: lengths },
        resolveDpoLossConfig({ lossType: 'orpo' }),
      ),
    ).toThrow(/chosenNll/);
    tf.dispose([chosen, rejected, lengths]);
  });

  test('mismatched shapes are a ShapeError naming both shapes', () => {
    const chosen = tf.tensor1d([-1, -2]);
    const rejected = tf.tensor1d([-3, -4, -5]);
    expect(() =>
      dpoLoss({ policyChosenLogps: chosen, policyRejectedLogps: rejected }, resolveDpoLossConfig({ referenceFree: true })),
    ).toThrow(ShapeError);
    expect(() =>
      dpoLoss({ policyChosenLogps: chosen, policyRejectedLogps: rejected }, resolveDpoLossConfig({ referenceFree: true })),
    ).toThrow(/\[2\].*\[3\]/);
    tf.dispose([chosen, rejected]);
  });
});
