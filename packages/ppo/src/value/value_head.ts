import * as tf from '@tensorflow/tfjs';
import { CausalLM, createRng, matMul2d, ShapeError } from '@rlhfjs/core';

/** A [D] → 1 linear map from hidden states to a scalar value per position. */
export class ValueHead {
  readonly weight: tf.Variable; // [D, 1]
  readonly bias: tf.Variable; // [1]

  constructor(hiddenSize: number, seed = 0) {
    const rng = createRng(seed);
    const initial = new Float32Array(hiddenSize);
    // small uniform init in ±1/√D; the head starts near 0 so early advantages are reward-driven
    const scale = 1 / Math.sqrt(hiddenSize);
    for (let index = 0; index < hiddenSize; index += 1) initial[index] = (rng.next() * 2 - 1) * scale * 0.1;
    this.weight = tf.variable(tf.tensor2d(initial, [hiddenSize, 1]), true);
    this.bias = tf.variable(tf.zeros([1]), true);
  }

  /** hidden [B, T, D] → values [B, T] */
  apply(hidden: tf.Tensor3D): tf.Tensor2D {
    const [batch, length, size] = hidden.shape;
    if (size !== this.weight.shape[0]) throw new ShapeError(`ValueHead: hidden size ${size}, head expects ${this.weight.shape[0]}`);
    return tf.tidy(() => tf.reshape(tf.add(matMul2d(tf.reshape(hidden, [batch * length, size]) as tf.Tensor2D, this.weight as tf.Tensor2D), this.bias), [batch, length]) as tf.Tensor2D);
  }

  parameters(): Map<string, tf.Variable> {
    return new Map([
      ['value_head.weight', this.weight],
      ['value_head.bias', this.bias],
    ]);
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}

/**
 * The critic of PPO, a tagged union:
 * - `policy-head`: a value head reading the policy's own hidden states (one forward serves both losses);
 * - `separate`: its own `CausalLM` backbone (e.g. a reward model's) plus a head; its backbone parameters train too.
 */
export type Critic =
  | { readonly kind: 'policy-head'; readonly head: ValueHead }
  | { readonly kind: 'separate'; readonly backbone: CausalLM; readonly head: ValueHead };

export function createPolicyHeadCritic(policy: CausalLM, seed = 0): Critic {
  return { kind: 'policy-head', head: new ValueHead(policy.config.hiddenSize, seed) };
}

export function createSeparateCritic(backbone: CausalLM, seed = 0): Critic {
  return { kind: 'separate', backbone, head: new ValueHead(backbone.config.hiddenSize, seed) };
}

/** The critic's trainable variables, by name (the policy's own parameters are not included for `policy-head`). */
export function criticParameters(critic: Critic): Map<string, tf.Variable> {
  switch (critic.kind) {
    case 'policy-head':
      return critic.head.parameters();
    case 'separate':
      return new Map([...critic.backbone.trainableParameters(), ...critic.head.parameters()].map(([name, variable]) => [name.startsWith('value_head.') ? name : `backbone.${name}`, variable]));
    default: {
      const unreachable: never = critic;
      throw new Error(`criticParameters: unknown critic ${String(unreachable)}`);
    }
  }
}

/**
 * Values [B, T] of every position of `inputIds` [B, T]. For `policy-head`, `policyHidden` [B, T, D] (the policy's
 * hidden states of the same forward) must be given; `separate` runs its own backbone.
 */
export function criticValues(critic: Critic, inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, policyHidden?: tf.Tensor3D): tf.Tensor2D {
  switch (critic.kind) {
    case 'policy-head':
      if (policyHidden === undefined) throw new ShapeError('criticValues: a policy-head critic needs the policy hidden states');
      return critic.head.apply(policyHidden);
    case 'separate':
      return tf.tidy(() => critic.head.apply(critic.backbone.forward({ inputIds, attentionMask, logits: 'none' }).hiddenStates));
    default: {
      const unreachable: never = critic;
      throw new Error(`criticValues: unknown critic ${String(unreachable)}`);
    }
  }
}
