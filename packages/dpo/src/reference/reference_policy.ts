import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '@rlhfjs/core';
import { concatenatedForward, type ConcatenatedPreferenceBatch } from '../trainer/preference_batch';

/**
 * Where DPO's reference log-probs come from:
 * - `frozen`: a separate copy of the model that is never trained;
 * - `adapters-disabled`: the policy itself with its LoRA adapters switched off (no second copy of the weights); the
 *   caller passes the switch, `(fn) => withAdaptersDisabled(policy, fn)` from `@rlhfjs/lora`, so that dpo never
 *   imports lora (an optional peer);
 * - `none`: no reference, for reference-free losses (`simpo`, `orpo`).
 */
export type ReferencePolicy =
  | { readonly kind: 'frozen'; readonly model: CausalLM }
  | { readonly kind: 'adapters-disabled'; readonly withAdaptersDisabled: <T>(fn: () => T) => T }
  | { readonly kind: 'none' };

/** Summed completion log-probs of a batch under the reference, as plain numbers (no gradient). [B] each. */
export interface ReferenceLogps {
  readonly chosen: Float32Array;
  readonly rejected: Float32Array;
}

function score(model: CausalLM, batch: ConcatenatedPreferenceBatch): ReferenceLogps {
  return tf.tidy(() => {
    const outputs = concatenatedForward(model, batch);
    return { chosen: Float32Array.from(outputs.chosenLogps.dataSync()), rejected: Float32Array.from(outputs.rejectedLogps.dataSync()) };
  });
}

/** Reference log-probs of one concatenated batch, or null for `none`. Runs one forward pass over [2B, T]. */
export function referenceLogps(reference: ReferencePolicy, policy: CausalLM, batch: ConcatenatedPreferenceBatch): ReferenceLogps | null {
  switch (reference.kind) {
    case 'frozen':
      return score(reference.model, batch);
    case 'adapters-disabled':
      return reference.withAdaptersDisabled(() => score(policy, batch));
    case 'none':
      return null;
    default: {
      const unreachable: never = reference;
      throw new Error(`referenceLogps: unknown reference ${JSON.stringify(unreachable)}`);
    }
  }
}
