import { ConfigError } from '../errors/errors';
import type { CausalLM } from '../model/causal_lm';

/**
 * Where a trainer's reference log-probs come from (DESIGN.md, "Core building blocks"), shared by DPO and PPO:
 * - `frozen`: a separate copy of the model that is never trained;
 * - `adapters-disabled`: the policy itself with its LoRA adapters switched off, so no second copy of the weights.
 *   Pass `withAdaptersDisabled: (fn) => withAdaptersDisabled(policy, fn)` from `@rlhfjs/lora`; a trainer that can
 *   find the adapters itself (DPO) fills it in when it is absent;
 * - `none`: no reference, for reference-free losses (SimPO, ORPO); trainers that need one refuse it.
 */
export type ReferencePolicy =
  | { readonly kind: 'frozen'; readonly model: CausalLM }
  | { readonly kind: 'adapters-disabled'; readonly withAdaptersDisabled?: <T>(fn: () => T) => T }
  | { readonly kind: 'none' };

/**
 * Runs `fn` on the reference model: the frozen copy, or `policy` inside `withAdaptersDisabled`. Returns null for
 * `none`. Throws a ConfigError for `adapters-disabled` without its `withAdaptersDisabled`.
 */
export function withReferenceModel<T>(reference: ReferencePolicy, policy: CausalLM, fn: (model: CausalLM) => T): T | null {
  switch (reference.kind) {
    case 'frozen':
      return fn(reference.model);
    case 'adapters-disabled': {
      const disable = reference.withAdaptersDisabled;
      if (disable === undefined) {
        throw new ConfigError('withReferenceModel', [
          "reference {kind: 'adapters-disabled'} needs withAdaptersDisabled: (fn) => withAdaptersDisabled(policy, fn) from @rlhfjs/lora",
        ]);
      }
      return disable(() => fn(policy));
    }
    case 'none':
      return null;
    default: {
      const unreachable: never = reference;
      throw new ConfigError('withReferenceModel', [`unknown reference kind ${JSON.stringify((unreachable as { kind?: unknown }).kind)}`]);
    }
  }
}
