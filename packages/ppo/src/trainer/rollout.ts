import * as tf from '@tensorflow/tfjs';
import { ConfigError, tokenLogProbsFromLogits, withReferenceModel, type CausalLM, type ReferencePolicy } from '@rlhfjs/core';
import { criticValues, type Critic } from '../value/value_head';

/** Tensors of one batch of rollouts; the response slice of the sequence is [P, P + N). */
export interface RolloutTensors {
  readonly sequences: tf.Tensor2D; // [B, P + N] int32
  readonly attentionMask: tf.Tensor2D; // [B, P + N]
  readonly responseMask: tf.Tensor2D; // [B, N]
  readonly promptLength: number;
  readonly responseLength: number;
}

/** Log-probs [B, N] of the response tokens from logits [B, P + N, V]. */
export function responseLogProbs(logits: tf.Tensor3D, rollout: RolloutTensors, temperature: number): tf.Tensor2D {
  return tf.tidy(() => {
    const batch = rollout.sequences.shape[0];
    const all = tokenLogProbsFromLogits(logits, rollout.sequences, temperature); // [B, P + N − 1]
    return tf.slice(all, [0, rollout.promptLength - 1], [batch, rollout.responseLength]) as tf.Tensor2D; // [B, N]
  });
}

/** The positions whose outputs predict the response tokens: [P − 1, P + N − 1). [B, L, …] → [B, N, …] */
export function responsePositions<T extends tf.Tensor>(tensor: T, rollout: RolloutTensors): T {
  const begin = tensor.shape.map((_, axis) => (axis === 1 ? rollout.promptLength - 1 : 0));
  const size = tensor.shape.map((extent, axis) => (axis === 1 ? rollout.responseLength : extent));
  return tf.slice(tensor, begin, size) as T;
}

/** One no-gradient forward: the log-probs [B, N] of the response under `model`. */
export function scoreLogProbs(model: CausalLM, rollout: RolloutTensors, temperature: number): tf.Tensor2D {
  return tf.tidy(() => {
    const { logits } = model.forward({ inputIds: rollout.sequences, attentionMask: rollout.attentionMask, logits: 'all' });
    return responseLogProbs(logits as tf.Tensor3D, rollout, temperature);
  });
}

/** Policy log-probs and critic values [B, N] at rollout time, from one policy forward (plus the critic's own). */
export function policyLogProbsAndValues(policy: CausalLM, critic: Critic, rollout: RolloutTensors, temperature: number): { logprobs: tf.Tensor2D; values: tf.Tensor2D } {
  return tf.tidy(() => {
    const { logits, hiddenStates } = policy.forward({ inputIds: rollout.sequences, attentionMask: rollout.attentionMask, logits: 'all' });
    const values = criticValues(critic, rollout.sequences, rollout.attentionMask, hiddenStates); // [B, P + N]
    return { logprobs: responseLogProbs(logits as tf.Tensor3D, rollout, temperature), values: responsePositions(values, rollout) };
  });
}

/** The KL reference: a frozen copy of the model, or the policy itself with its LoRA adapters switched off. */
/** Core's `ReferencePolicy`: a frozen copy, or the policy with its adapters disabled (`none` is refused here). */
export type { ReferencePolicy };

/** The reference's log-probs [B, N] of the response tokens (one no-gradient forward, no second weight copy for adapters). */
export function referenceLogProbs(reference: ReferencePolicy, policy: CausalLM, rollout: RolloutTensors, temperature: number): tf.Tensor2D {
  const logProbs = withReferenceModel(reference, policy, (model) => scoreLogProbs(model, rollout, temperature));
  if (logProbs === null) {
    throw new ConfigError('referenceLogProbs', ["reference {kind: 'none'} has no log-probs: PPO, and GRPO with beta > 0, need {kind: 'frozen'} or {kind: 'adapters-disabled'}"]);
  }
  return logProbs;
}

/** Completion texts: each row's masked completion ids, decoded without special tokens. */
export function decodeCompletions(tokenizer: { decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string }, completionIds: readonly (readonly number[])[], completionMask: readonly (readonly number[])[]): string[] {
  return completionIds.map((ids, row) => tokenizer.decode(ids.filter((_, position) => completionMask[row]?.[position] === 1), { skipSpecialTokens: true }));
}
