import { ConfigError } from '@rlhfjs/core';
import { DPO_LOSS_TYPES, resolveDpoLossConfig, type DpoLossOptions } from './dpo_loss_config';

describe('resolveDpoLossConfig', () => {
  test('defaults follow TRL', () => {
    const config = resolveDpoLossConfig({});
    expect(config).toEqual({
      terms: [{ type: 'sigmoid', weight: 1 }],
      beta: 0.1,
      labelSmoothing: 0,
      referenceFree: false,
      simpoGamma: 0.5,
      rpoAlpha: undefined,
      orpoLambda: 0.1,
      discopopTau: 0.05,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.terms)).toBe(true);
  });

  test('a weighted list keeps its order and weights; weight defaults to 1', () => {
    const options: DpoLossOptions = { lossType: [{ type: 'sigmoid', weight: 0.8 }, { type: 'bco_pair' }] };
    const config = resolveDpoLossConfig(options);
    expect(config.terms).toEqual([
      { type: 'sigmoid', weight: 0.8 },
      { type: 'bco_pair', weight: 1 },
    ]);
    expect(config.terms).not.toBe(options.lossType);
  });

  test('gamma is an alias of simpoGamma', () => {
    expect(resolveDpoLossConfig({ gamma: 1.5 }).simpoGamma).toBe(1.5);
  });

  test('an unknown type is a ConfigError that lists the valid types', () => {
    let error: unknown;
    try {
      resolveDpoLossConfig({ lossType: 'kto_pair' as never });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const type of DPO_LOSS_TYPES) expect((error as ConfigError).message).toContain(type);
  });

  test('every problem is collected into one ConfigError', () => {
    let error: unknown;
    try {
      resolveDpoLossConfig({
        lossType: [{ type: 'nope' as never }, { type: 'ipo', weight: Number.NaN }],
        beta: 0,
        labelSmoothing: 0.5,
        gamma: 1,
        simpoGamma: 2,
        rpoAlpha: -1,
        orpoLambda: -1,
        discopopTau: 0,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(8);
  });
});
