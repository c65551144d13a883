import * as tf from '@tensorflow/tfjs';
import { ConfigError, IdentityReducer, ShapeError, type GradientReducer } from '@rlhfjs/core';
import type { KlEstimator } from '../kl/kl_estimators';
import { computePerTokenRewards } from '../rewards/per_token_rewards';

export interface ReinforcePlusPlusInputs {
  /** Sequence scores. [B] */
  readonly scores: tf.Tensor1D;
  /** Log-probs of the sampled tokens at rollout time. [B, T] */
  readonly logprobs: tf.Tensor2D;
  readonly refLogprobs: tf.Tensor2D; // [B, T]
  readonly responseMask: tf.Tensor2D; // [B, T]
}

export interface ReinforcePlusPlusOptions {
  /** β of the per-token KL reward. */
  readonly klCoef: number;
  /** Discount of the return-to-go; default 1. */
  readonly gamma?: number;
  /** Default 'k1' (OpenRLHF's default `kl_estimator`). */
  readonly estimator?: KlEstimator;
  /** Sums the normalisation statistics over all ranks; default one process. */
  readonly reducer?: GradientReducer;
}

export interface ReinforcePlusPlusResult {
  /** Normalised advantages, 0 outside the mask. [B, T] */
  readonly advantages: tf.Tensor2D;
  /** Discounted returns-to-go before normalisation. [B, T] */
  readonly returns: tf.Tensor2D;
  /** Masked per-token KL estimate. [B, T] */
  readonly kl: tf.Tensor2D;
}

/**
 * REINFORCE++ (Hu 2025; OpenRLHF `advantage_estimator="reinforce"`): the per-token reward is `−β·KL_t` plus the
 * score on the last real token (the PPO reward of `computePerTokenRewards`), the advantage is the discounted
 * return-to-go `G_t = Σ_{k≥t} γ^(k−t) r_k` (no critic), normalised over the GLOBAL batch of tokens (every rank):
 * `(G − mean) · rsqrt(max(var, 1e-8))` with the masked mean and the masked biased variance, as OpenRLHF does.
 */
export async function reinforcePlusPlusAdvantages(inputs: ReinforcePlusPlusInputs, options: ReinforcePlusPlusOptions): Promise<ReinforcePlusPlusResult> {
  const gamma = options.gamma ?? 1;
  if (!(gamma >= 0 && gamma <= 1)) throw new ConfigError('reinforcePlusPlusAdvantages', [`gamma must be in [0, 1], got ${gamma}`]);
  const reducer = options.reducer ?? new IdentityReducer();
  const perToken = computePerTokenRewards(inputs, { klCoef: options.klCoef, estimator: options.estimator ?? 'k1' });
  const [rows, length] = inputs.logprobs.shape;
  try {
    const rewards = perToken.rewards.dataSync();
    const mask = inputs.responseMask.dataSync();
    const returns = new Float32Array(rows * length); // [B, T]
    let sum = 0;
    let count = 0;
    for (let row = 0; row < rows; row += 1) {
      let running = 0;
      for (let position = length - 1; position >= 0; position -= 1) {
        const index = row * length + position;
        running = (rewards[index] as number) * (mask[index] as number) + gamma * running;
        returns[index] = (mask[index] as number) === 0 ? 0 : running;
        sum += (returns[index] as number) * (mask[index] as number);
        count += mask[index] as number;
      }
    }
    const [globalSum, globalCount] = (await reducer.allReduceSum([sum, count])) as [number, number];
    if (!(globalCount > 0)) throw new ShapeError('reinforcePlusPlusAdvantages: responseMask has no token on any rank');
    const mean = globalSum / globalCount;
    let squares = 0;
    for (let index = 0; index < returns.length; index += 1) squares += ((returns[index] as number) - mean) ** 2 * (mask[index] as number);
    const [globalSquares] = (await reducer.allReduceSum([squares])) as [number];
    const scale = 1 / Math.sqrt(Math.max(globalSquares / globalCount, 1e-8));
    const advantages = Float32Array.from(returns, (value, index) => (mask[index] === 0 ? 0 : (value - mean) * scale));
    return { advantages: tf.tensor2d(advantages, [rows, length]), returns: tf.tensor2d(returns, [rows, length]), kl: perToken.kl };
  } catch (error) {
    perToken.kl.dispose();
    throw error;
  } finally {
    perToken.rewards.dispose();
  }
}
