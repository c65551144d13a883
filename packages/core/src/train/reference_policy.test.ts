import { ConfigError } from '../errors/errors';
import type { CausalLM } from '../model/causal_lm';
import { withReferenceModel } from './reference_policy';

describe('withReferenceModel', () => {
  // Only identity matters here: the helper hands one of these two objects to the callback.
  const policy = { name: 'policy' } as unknown as CausalLM;
  const frozen = { name: 'frozen copy' } as unknown as CausalLM;

  it('runs on the frozen copy, on the policy with adapters disabled, and not at all for none', () => {
    expect(withReferenceModel({ kind: 'frozen', model: frozen }, policy, (model) => model)).toBe(frozen);
    const calls: string[] = [];
    const disabled = withReferenceModel(
      {
        kind: 'adapters-disabled',
        withAdaptersDisabled: (fn) => {
          calls.push('disable');
          const result = fn();
          calls.push('enable');
          return result;
        },
      },
      policy,
      (model) => {
        calls.push('score');
        return model;
      },
    );
    expect(disabled).toBe(policy);
    expect(calls).toEqual(['disable', 'score', 'enable']);
    expect(withReferenceModel({ kind: 'none' }, policy, () => 1)).toBeNull();
  });

  it('refuses adapters-disabled without withAdaptersDisabled, and an unknown kind', () => {
    expect(() => withReferenceModel({ kind: 'adapters-disabled' }, policy, () => 1)).toThrow(ConfigError);
    expect(() => withReferenceModel({ kind: 'adapters-disabled' }, policy, () => 1)).toThrow(/needs withAdaptersDisabled/);
    expect(() => withReferenceModel({ kind: 'copy' } as never, policy, () => 1)).toThrow(/unknown reference kind "copy"/);
  });
});
