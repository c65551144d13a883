import * as tf from '@tensorflow/tfjs';
import { withReferenceModel, type CausalLM, type ReferencePolicy } from '@rlhfjs/core';
import { concatenatedForward, type ConcatenatedPreferenceBatch } from '../trainer/preference_batch';

/**
 * Core's `ReferencePolicy`. For `adapters-disabled` the caller passes the switch,
 * `(fn) => withAdaptersDisabled(policy, fn)` from `@rlhfjs/lora`, so that dpo never imports lora (an optional peer).
 */
export type { ReferencePolicy };

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
  return withReferenceModel(reference, policy, (model) => score(model, batch));
}
