import { CheckpointError, ConfigError } from '@rlhfjs/core';
import golden from '../../test/fixtures/ppo_pieces.json';
import { AdaptiveKLController, FixedKLController } from './kl_controller';

describe('AdaptiveKLController', () => {
  test('five updates match the PyTorch-script golden (Ziegler et al. 2019)', () => {
    const { initKlCoef, target, horizon, nSteps, kls, values } = golden.adaptiveKl;
    const controller = new AdaptiveKLController({ initKlCoef, target, horizon });
    expect(controller.value).toBe(initKlCoef);
    kls.forEach((kl, index) => {
      controller.update(kl, nSteps);
      expect(controller.value).toBeCloseTo(values[index] as number, 12);
    });
  });

  test('the proportional error is clipped to ±0.2', () => {
    const controller = new AdaptiveKLController({ initKlCoef: 1, target: 1, horizon: 10 });
    controller.update(100, 1); // error clipped to 0.2
    expect(controller.value).toBeCloseTo(1.02, 12);
    controller.update(0, 1); // error clipped to −0.2
    expect(controller.value).toBeCloseTo(1.02 * 0.98, 12);
  });

  test('state and load round-trip; a mismatched state is a CheckpointError', () => {
    const controller = new AdaptiveKLController({ initKlCoef: 0.1, target: 6, horizon: 10000 });
    controller.update(12, 512);
    const state = controller.state();
    const restored = new AdaptiveKLController({ initKlCoef: 0.1, target: 6, horizon: 10000 });
    restored.load(JSON.parse(JSON.stringify(state)));
    expect(restored.value).toBe(controller.value);
    expect(() => new AdaptiveKLController({ initKlCoef: 0.1, target: 3, horizon: 10000 }).load(state)).toThrow(CheckpointError);
    expect(() => restored.load({ kind: 'fixed', value: 0.1 })).toThrow(CheckpointError);
  });

  test('invalid options are one ConfigError listing every problem', () => {
    let error: unknown;
    try {
      new AdaptiveKLController({ initKlCoef: -1, target: 0, horizon: Number.NaN });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(3);
  });
});

describe('FixedKLController', () => {
  test('keeps its value through updates and round-trips its state', () => {
    const controller = new FixedKLController(0.05);
    controller.update(100, 1000);
    expect(controller.value).toBe(0.05);
    expect(controller.state()).toEqual({ kind: 'fixed', value: 0.05 });
    expect(() => controller.load({ kind: 'fixed', value: 0.05 })).not.toThrow();
    expect(() => controller.load({ kind: 'fixed', value: 0.5 })).toThrow(CheckpointError);
    expect(() => new FixedKLController(-1)).toThrow(ConfigError);
  });
});
