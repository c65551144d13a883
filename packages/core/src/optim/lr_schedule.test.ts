import { ConfigError } from '../errors/errors';
import { createLrSchedule, resolveLrScheduleConfig } from './lr_schedule';

// Expected values are worked out by hand from the transformers formulas (0-based update index `step`):
//   warmup:  step / warmupSteps
//   linear:  (totalSteps - step) / (totalSteps - warmupSteps), floored at 0
//   cosine:  0.5 (1 + cos(2π · numCycles · progress)), progress = (step - warmup) / (total - warmup)
//   min lr:  cosine · (1 - minLr/lr) + minLr/lr
describe('createLrSchedule', () => {
  it('constant with warmup ramps linearly from 0 then holds', () => {
    const schedule = createLrSchedule({
      type: 'constant',
      learningRate: 1e-3,
      warmupSteps: 4,
    });
    expect(schedule(0)).toBe(0);
    expect(schedule(1)).toBeCloseTo(2.5e-4, 15);
    expect(schedule(3)).toBeCloseTo(7.5e-4, 15);
    expect(schedule(4)).toBeCloseTo(1e-3, 15);
    expect(schedule(1000)).toBeCloseTo(1e-3, 15);
  });

  it('constant without warmup is flat from update 0', () => {
    const schedule = createLrSchedule({ learningRate: 3e-4 });
    expect(schedule(0)).toBe(3e-4);
    expect(schedule(7)).toBe(3e-4);
  });

  it('linear warms up then decays to 0 at totalSteps and stays there', () => {
    const schedule = createLrSchedule({
      type: 'linear',
      learningRate: 1e-3,
      warmupSteps: 2,
      totalSteps: 10,
    });
    expect(schedule(0)).toBe(0);
    expect(schedule(1)).toBeCloseTo(5e-4, 15);
    expect(schedule(2)).toBeCloseTo(1e-3, 15);
    expect(schedule(6)).toBeCloseTo(5e-4, 15); // (10 - 6) / 8 = 0.5
    expect(schedule(9)).toBeCloseTo(1.25e-4, 15); // 1 / 8
    expect(schedule(10)).toBe(0);
    expect(schedule(12)).toBe(0);
  });

  it('cosine half-wave: peak, midpoint, zero, then rises again past totalSteps as in transformers', () => {
    const schedule = createLrSchedule({
      type: 'cosine',
      learningRate: 1,
      warmupSteps: 2,
      totalSteps: 10,
    });
    expect(schedule(1)).toBeCloseTo(0.5, 15);
    expect(schedule(2)).toBeCloseTo(1, 15);
    expect(schedule(4)).toBeCloseTo(0.5 + Math.SQRT2 / 4, 12); // progress 1/4
    expect(schedule(6)).toBeCloseTo(0.5, 12); // progress 1/2
    expect(schedule(10)).toBeCloseTo(0, 12);
    expect(schedule(12)).toBeCloseTo(0.5 - Math.SQRT2 / 4, 12); // progress 5/4
  });

  it('cosine with a full cycle reaches 0 at the midpoint', () => {
    const schedule = createLrSchedule({
      type: 'cosine',
      learningRate: 2,
      totalSteps: 8,
      numCycles: 1,
    });
    expect(schedule(0)).toBeCloseTo(2, 15);
    expect(schedule(4)).toBeCloseTo(0, 12);
    expect(schedule(8)).toBeCloseTo(2, 12);
  });

  it('cosine with a minimum learning rate decays to the floor', () => {
    const schedule = createLrSchedule({
      type: 'cosine',
      learningRate: 1,
      minLearningRate: 0.1,
      warmupSteps: 2,
      totalSteps: 10,
    });
    expect(schedule(0)).toBe(0); // warmup is not floored, as in transformers
    expect(schedule(6)).toBeCloseTo(0.55, 12); // 0.5 · 0.9 + 0.1
    expect(schedule(10)).toBeCloseTo(0.1, 12);
  });

  it('collects every config problem in one ConfigError', () => {
    let error: unknown;
    try {
      resolveLrScheduleConfig({
        type: 'linear',
        learningRate: -1,
        warmupSteps: 1.5,
        numCycles: 0,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/learningRate/);
    expect(problems.join('\n')).toMatch(/warmupSteps/);
    expect(problems.join('\n')).toMatch(/totalSteps is required/);
    expect(problems.join('\n')).toMatch(/numCycles/);
  });

  it('rejects a min learning rate outside cosine, warmup beyond total, and negative steps', () => {
    expect(() =>
      createLrSchedule({
        type: 'linear',
        learningRate: 1,
        totalSteps: 5,
        minLearningRate: 0.1,
      }),
    ).toThrow(ConfigError);
    expect(() =>
      createLrSchedule({
        type: 'linear',
        learningRate: 1,
        totalSteps: 5,
        warmupSteps: 6,
      }),
    ).toThrow(ConfigError);
    expect(() => createLrSchedule({ learningRate: 1 })(-1)).toThrow(ConfigError);
  });

  it('returns a frozen config', () => {
    const config = resolveLrScheduleConfig({
      type: 'cosine',
      learningRate: 1,
      totalSteps: 3,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(config).toEqual({
      type: 'cosine',
      learningRate: 1,
      warmupSteps: 0,
      totalSteps: 3,
      minLearningRate: 0,
      numCycles: 0.5,
    });
  });
});
