import * as tf from '@tensorflow/tfjs';

import { CheckpointError, ConfigError, ShapeError } from '../errors/errors';
import { AdamW, defaultNoDecay, resolveAdamWConfig } from './adamw';

/**
 * Independent float64 reference of torch.optim.AdamW's documented update for one scalar, written from the
 * algorithm box in the torch docs (decoupled decay first, then moments, bias corrections, eps outside the sqrt).
 */
function referenceAdamW(
  initial: number,
  grads: readonly number[],
  learningRates: readonly number[],
  options: { beta1: number; beta2: number; eps: number; weightDecay: number },
): number {
  let p = initial;
  let m = 0;
  let v = 0;
  grads.forEach((g, index) => {
    const t = index + 1;
    const lr = learningRates[index]!;
    p -= lr * options.weightDecay * p;
    m = options.beta1 * m + (1 - options.beta1) * g;
    v = options.beta2 * v + (1 - options.beta2) * g * g;
    const mHat = m / (1 - options.beta1 ** t);
    const vHat = v / (1 - options.beta2 ** t);
    p -= (lr * mHat) / (Math.sqrt(vHat) + options.eps);
  });
  return p;
}

function expectCloseArray(actual: ArrayLike<number>, expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let index = 0; index < expected.length; index += 1) {
    expect(Math.abs(actual[index]! - expected[index]!)).toBeLessThan(tolerance);
  }
}

describe('AdamW', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches the torch AdamW formula over two steps, with a no-decay bias', () => {
    const weightInit = [1, -2, 0.5, 3];
    const biasInit = [0.25, -0.75];
    const weightGrads = [
      [0.5, -1, 2, 0.001],
      [-0.25, 0.3, 2, -0.002],
    ];
    const biasGrads = [
      [1, -0.5],
      [0.5, 0.5],
    ];
    const learningRates = [0.1, 0.05];
    const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

    const params = new Map<string, tf.Variable>([
      ['layer.weight', tf.variable(tf.tensor2d(weightInit, [2, 2]))],
      ['layer.bias', tf.variable(tf.tensor1d(biasInit))],
    ]);
    const optimizer = new AdamW({ weightDecay: 0.1 });
    for (let step = 0; step < 2; step += 1) {
      const grads = {
        'layer.weight': tf.tensor2d(weightGrads[step]!, [2, 2]),
        'layer.bias': tf.tensor1d(biasGrads[step]!),
      };
      optimizer.step(params, grads, learningRates[step]!);
      tf.dispose(grads);
    }

    // Hand-worked anchor for element 0 of the weight (p=1, g=0.5 then -0.25, lr 0.1 then 0.05, wd 0.1):
    //   step 1: p = 1·(1 − 0.01) − 0.1·0.5/(0.5 + 1e-8) = 0.890000002
    //   step 2: p = 0.890000002·0.995 = 0.88555000199; m = 0.02, v = 0.00031225;
    //           p −= (0.05/0.19)·0.02 / (√(0.00031225/0.001999) + 1e-8) → 0.872233150344
    expect(referenceAdamW(1, [0.5, -0.25], learningRates, hyper)).toBeCloseTo(0.872233150344, 11);

    const expectedWeight = weightInit.map((initial, index) =>
      referenceAdamW(initial, [weightGrads[0]![index]!, weightGrads[1]![index]!], learningRates, hyper),
    );
    const expectedBias = biasInit.map((initial, index) =>
      referenceAdamW(initial, [biasGrads[0]![index]!, biasGrads[1]![index]!], learningRates, {
        ...hyper,
        weightDecay: 0, // biases are in the no-decay group
      }),
    );
    expectCloseArray(params.get('layer.weight')!.dataSync(), expectedWeight, 2e-6);
    expectCloseArray(params.get('layer.bias')!.dataSync(), expectedBias, 2e-6);
    // The decay is visible: with decay the bias would differ by more than the tolerance.
    const decayedBias0 = referenceAdamW(biasInit[0]!, [1, 0.5], learningRates, hyper);
    expect(Math.abs(decayedBias0 - expectedBias[0]!)).toBeGreaterThan(1e-4);

    expect(optimizer.stepCount).toBe(2);
    optimizer.dispose();
    params.forEach((variable) => variable.dispose());
  });

  it('skips parameters without a gradient and keeps their own step count, as torch does', () => {
    const params = new Map<string, tf.Variable>([
      ['a.weight', tf.variable(tf.tensor2d([[1]]))],
      ['b.weight', tf.variable(tf.tensor2d([[2]]))],
    ]);
    const optimizer = new AdamW({ weightDecay: 0 });
    const g1 = { 'a.weight': tf.tensor2d([[0.5]]) };
    optimizer.step(params, g1, 0.1);
    expect(params.get('b.weight')!.dataSync()[0]).toBe(2);
    const g2 = {
      'a.weight': tf.tensor2d([[0.5]]),
      'b.weight': tf.tensor2d([[-3]]),
    };
    optimizer.step(params, g2, 0.1);
    // b's first update is a bias-corrected first step: exactly lr·sign(g) away (up to eps).
    expect(params.get('b.weight')!.dataSync()[0]).toBeCloseTo(2.1, 6);
    const state = optimizer.stateDict();
    expect(state.step).toBe(2);
    expect(state.tensors.get('a.weight.step')!.data[0]).toBe(2);
    expect(state.tensors.get('b.weight.step')!.data[0]).toBe(1);
    tf.dispose([g1, g2]);
    optimizer.dispose();
    params.forEach((variable) => variable.dispose());
  });

  it('throws ShapeError naming the parameter and both shapes, before changing anything', () => {
    const params = new Map<string, tf.Variable>([
      ['a.weight', tf.variable(tf.tensor2d([[1, 2]]))],
      ['b.weight', tf.variable(tf.tensor2d([[1, 2]]))],
    ]);
    const optimizer = new AdamW();
    const grads = {
      'a.weight': tf.tensor2d([[1, 1]]),
      'b.weight': tf.tensor2d([[1], [1]]),
    };
    expect(() => optimizer.step(params, grads, 0.1)).toThrow(ShapeError);
    expect(() => optimizer.step(params, grads, 0.1)).toThrow(/"b\.weight".*\[2, 1\].*\[1, 2\]/);
    expect(Array.from(params.get('a.weight')!.dataSync())).toEqual([1, 2]);
    expect(optimizer.stepCount).toBe(0);
    const stray = { 'c.weight': tf.tensor2d([[1]]) };
    expect(() => optimizer.step(params, stray, 0.1)).toThrow(ConfigError);
    tf.dispose([grads, stray]);
    optimizer.dispose();
    params.forEach((variable) => variable.dispose());
  });

  it('saves and restores state so that a resumed run equals an uninterrupted one', () => {
    const makeParams = () =>
      new Map<string, tf.Variable>([
        [
          'w',
          tf.variable(
            tf.tensor2d([
              [1, -1],
              [0.5, 2],
            ]),
          ),
        ],
        ['ln_f.weight', tf.variable(tf.tensor1d([1, 1]))],
      ]);
    const gradsAt = (step: number): tf.NamedTensorMap => ({
      w: tf.tensor2d([
        [0.1 * step, -0.2],
        [0.3, 0.05 * step],
      ]),
      'ln_f.weight': tf.tensor1d([0.2, -0.1 * step]),
    });
    const straight = makeParams();
    const straightOptimizer = new AdamW();
    for (let step = 1; step <= 3; step += 1) {
      const grads = gradsAt(step);
      straightOptimizer.step(straight, grads, 0.01);
      tf.dispose(grads);
    }

    const resumed = makeParams();
    const first = new AdamW();
    for (let step = 1; step <= 2; step += 1) {
      const grads = gradsAt(step);
      first.step(resumed, grads, 0.01);
      tf.dispose(grads);
    }
    const saved = first.stateDict();
    expect([...saved.tensors.keys()].sort()).toEqual([
      'ln_f.weight.exp_avg',
      'ln_f.weight.exp_avg_sq',
      'ln_f.weight.step',
      'w.exp_avg',
      'w.exp_avg_sq',
      'w.step',
    ]);
    expect(saved.tensors.get('w.exp_avg')!.shape).toEqual([2, 2]);
    first.dispose();
    const second = new AdamW();
    second.loadStateDict(saved, resumed);
    saved.tensors.get('w.exp_avg')!.data.fill(1e6); // the optimizer must hold its own copy
    expect(second.stepCount).toBe(2);
    const grads = gradsAt(3);
    second.step(resumed, grads, 0.01);
    tf.dispose(grads);

    for (const name of ['w', 'ln_f.weight']) {
      expectCloseArray(resumed.get(name)!.dataSync(), Array.from(straight.get(name)!.dataSync()), 1e-7);
    }
    straightOptimizer.dispose();
    second.dispose();
    [...straight.values(), ...resumed.values()].forEach((variable) => variable.dispose());
  });

  it('rejects inconsistent state with CheckpointError and keeps the old state', () => {
    const params = new Map<string, tf.Variable>([['w', tf.variable(tf.tensor2d([[1, 2]]))]]);
    const optimizer = new AdamW();
    const good = {
      step: 1,
      tensors: new Map([
        ['w.exp_avg', { data: new Float32Array(2), shape: [1, 2] }],
        ['w.exp_avg_sq', { data: new Float32Array(2), shape: [1, 2] }],
      ]),
    };
    optimizer.loadStateDict(good, params);
    const wrongShape = {
      step: 1,
      tensors: new Map([
        ['w.exp_avg', { data: new Float32Array(2), shape: [2, 1] }],
        ['w.exp_avg_sq', { data: new Float32Array(2), shape: [2, 1] }],
      ]),
    };
    expect(() => optimizer.loadStateDict(wrongShape, params)).toThrow(CheckpointError);
    expect(() => optimizer.loadStateDict(wrongShape, params)).toThrow(/\[2, 1\].*\[1, 2\]/);
    const missing = {
      step: 1,
      tensors: new Map([['w.exp_avg', { data: new Float32Array(2), shape: [1, 2] }]]),
    };
    expect(() => optimizer.loadStateDict(missing)).toThrow(/exp_avg_sq/);
    const unknownParam = {
      step: 1,
      tensors: new Map([
        ['v.exp_avg', { data: new Float32Array(1), shape: [1] }],
        ['v.exp_avg_sq', { data: new Float32Array(1), shape: [1] }],
      ]),
    };
    expect(() => optimizer.loadStateDict(unknownParam, params)).toThrow(/not a parameter/);
    const badLength = {
      step: 1,
      tensors: new Map([
        ['w.exp_avg', { data: new Float32Array(3), shape: [1, 2] }],
        ['w.exp_avg_sq', { data: new Float32Array(2), shape: [1, 2] }],
      ]),
    };
    expect(() => optimizer.loadStateDict(badLength)).toThrow(CheckpointError);
    expect(optimizer.stateDict().tensors.get('w.exp_avg')!.shape).toEqual([1, 2]); // old state kept
    // Loaded without params, a shape mismatch surfaces at the first step.
    optimizer.loadStateDict(wrongShape);
    const grads = { w: tf.tensor2d([[1, 1]]) };
    expect(() => optimizer.step(params, grads, 0.1)).toThrow(CheckpointError);
    tf.dispose(grads);
    optimizer.dispose();
    params.forEach((variable) => variable.dispose());
  });

  it('does not leak tensors across steps, state round trips and dispose', () => {
    const params = new Map<string, tf.Variable>([
      ['h.0.attn.weight', tf.variable(tf.randomNormal([4, 3]))],
      ['h.0.attn.bias', tf.variable(tf.zeros([3]))],
    ]);
    const grads = {
      'h.0.attn.weight': tf.randomNormal([4, 3]),
      'h.0.attn.bias': tf.randomNormal([3]),
    };
    const before = tf.memory().numTensors;
    const optimizer = new AdamW();
    optimizer.step(params, grads, 1e-3);
    const afterFirst = tf.memory().numTensors;
    expect(afterFirst).toBe(before + 4); // m and v for two parameters
    for (let step = 0; step < 5; step += 1) {
      optimizer.step(params, grads, 1e-3);
    }
    optimizer.loadStateDict(optimizer.stateDict(), params);
    expect(tf.memory().numTensors).toBe(afterFirst);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(grads);
    params.forEach((variable) => variable.dispose());
  });
});

describe('resolveAdamWConfig', () => {
  it('uses torch defaults and freezes the config', () => {
    const config = resolveAdamWConfig();
    expect(config.betas).toEqual([0.9, 0.999]);
    expect(config.eps).toBe(1e-8);
    expect(config.weightDecay).toBe(0.01);
    expect(config.noDecay).toBe(defaultNoDecay);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('collects every problem in one ConfigError', () => {
    let error: unknown;
    try {
      resolveAdamWConfig({ betas: [1, -0.1], eps: 0, weightDecay: -1 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('excludes biases, norm weights and 1-D parameters from decay by default', () => {
    expect(defaultNoDecay('model.layers.0.self_attn.q_proj.bias', [8])).toBe(true);
    expect(defaultNoDecay('model.layers.0.input_layernorm.weight', [8])).toBe(true);
    expect(defaultNoDecay('transformer.h.0.ln_1.weight', [8])).toBe(true);
    expect(defaultNoDecay('model.norm.weight', [8])).toBe(true);
    expect(defaultNoDecay('some.scale', [8])).toBe(true);
    expect(defaultNoDecay('transformer.h.0.attn.c_attn.weight', [8, 24])).toBe(false);
    expect(defaultNoDecay('lm_head.weight', [8, 100])).toBe(false);
  });

  it('applies a custom name-only filter', () => {
    const params = new Map<string, tf.Variable>([
      ['keep', tf.variable(tf.tensor2d([[1]]))],
      ['decay', tf.variable(tf.tensor2d([[1]]))],
    ]);
    const optimizer = new AdamW({
      weightDecay: 0.5,
      noDecay: (name) => name === 'keep',
    });
    const grads = { keep: tf.tensor2d([[0]]), decay: tf.tensor2d([[0]]) };
    optimizer.step(params, grads, 0.1);
    // Zero gradient: only the decay moves the parameter, p·(1 − 0.1·0.5).
    expect(params.get('keep')!.dataSync()[0]).toBe(1);
    expect(params.get('decay')!.dataSync()[0]).toBeCloseTo(0.95, 7);
    tf.dispose(grads);
    optimizer.dispose();
    params.forEach((variable) => variable.dispose());
  });
});

/** Whether the optional native addon is built (required by a computed name: core does not depend on native). */
function nativeBuilt(): boolean {
  try {
    const native = require(['@rlhfjs', 'native'].join('/')) as { isNativeAvailable(): boolean };
    return native.isNativeAvailable();
  } catch {
    return false;
  }
}

describe('AdamW with a backend kernel (@rlhfjs/native)', () => {
  (nativeBuilt() || process.env['CI'] ? it : it.skip)('gives the portable update over three steps, decayed and not, without leaks', async () => {
    const run = async (backend: string): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      const sizes = [70001, 33]; // a matrix-sized parameter (split over threads) and a bias
      const params = new Map(sizes.map((size, i) => [i === 0 ? 'layer.weight' : 'layer.bias',
        tf.variable(tf.tensor1d(Float32Array.from({ length: size }, (_, j) => Math.sin(j * 0.37 + i))))]));
      const optimizer = new AdamW({ weightDecay: 0.1, eps: 1e-8 });
      const before = tf.memory().numTensors;
      for (let step = 0; step < 3; step++) {
        const grads: tf.NamedTensorMap = {};
        for (const [name, variable] of params) {
          grads[name] = tf.tensor1d(Float32Array.from({ length: variable.size }, (_, j) => Math.cos(j * 0.11 + step) * (j % 3)));
        }
        const kernels = (await tf.profile(() => optimizer.step(params, grads, 1e-2 * (step + 1)))).kernelNames;
        // the first step assigns new buffers; from then on the backend owns them and updates them in place
        expect(kernels.includes(step === 0 ? 'RlhfjsAdamW' : 'RlhfjsAdamWInPlace')).toBe(backend === 'native');
        if (backend === 'native' && step > 0) expect(kernels.includes('RlhfjsAdamW')).toBe(false);
        tf.dispose(Object.values(grads));
        if (step === 0) expect(tf.memory().numTensors).toBe(before + 2 * params.size); // m and v per parameter
      }
      expect(tf.memory().numTensors).toBe(before + 2 * params.size);
      const values = [...params.values()].map((variable) => variable.dataSync().slice() as Float32Array);
      const state = optimizer.stateDict();
      values.push(...[...state.tensors.values()].map((tensor) => Float32Array.from(tensor.data)));
      optimizer.dispose();
      params.forEach((variable) => variable.dispose());
      return values;
    };
    try {
      const native = await run('native');
      const cpu = await run('cpu');
      expect(native.length).toBe(cpu.length);
      native.forEach((values, i) => {
        const expected = cpu[i] as Float32Array;
        let worst = 0;
        values.forEach((value, j) => { worst = Math.max(worst, Math.abs(value - (expected[j] as number))); });
        expect(worst).toBeLessThan(1e-6);
      });
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
