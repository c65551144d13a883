import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';

export interface GaeInputs {
  /** Per-token rewards. [B, T] */
  readonly rewards: tf.Tensor2D;
  /** Value estimates V(s_t). [B, T] */
  readonly values: tf.Tensor2D;
  /** 1 on response tokens, 0 on padding. [B, T] */
  readonly mask: tf.Tensor2D;
  /** Discount γ; default 1. */
  readonly gamma?: number;
  /** GAE λ; default 0.95. */
  readonly lambda?: number;
}

export interface GaeResult {
  /** GAE advantages, 0 outside the mask. [B, T] */
  readonly advantages: tf.Tensor2D;
  /** advantages + values (the value targets), 0 outside the mask. [B, T] */
  readonly returns: tf.Tensor2D;
}

/**
 * Generalised advantage estimation (Schulman et al. 2016) over a [B, T] batch, as TRL's PPOTrainer and
 * OpenRLHF's `get_advantages_and_returns` compute it: rewards and values are zeroed outside the mask, then the
 * reverse scan `δ_t = r_t + γ·V_{t+1} − V_t`, `A_t = δ_t + γλ·A_{t+1}` (V_T = 0, A_T = 0); returns = A + V.
 * Advantages are data (no gradient flows back through them), so the scan runs on plain numbers in float64.
 */
export function computeGae(inputs: GaeInputs): GaeResult {
  const { rewards, values, mask } = inputs;
  const gamma = inputs.gamma ?? 1;
  const lambda = inputs.lambda ?? 0.95;
  const problems: string[] = [];
  if (!(gamma >= 0 && gamma <= 1)) problems.push(`gamma must be in [0, 1], got ${gamma}`);
  if (!(lambda >= 0 && lambda <= 1)) problems.push(`lambda must be in [0, 1], got ${lambda}`);
  if (problems.length > 0) throw new ConfigError('computeGae', problems);
  if (!tf.util.arraysEqual(values.shape, rewards.shape) || !tf.util.arraysEqual(mask.shape, rewards.shape)) {
    throw new ShapeError(
      `computeGae: rewards [${rewards.shape.join(', ')}], values [${values.shape.join(', ')}] and mask [${mask.shape.join(', ')}] must match`,
    );
  }
  const [batchSize, length] = rewards.shape;
  const rewardValues = rewards.dataSync();
  const valueValues = values.dataSync();
  const maskValues = mask.dataSync();
  const advantages = new Float32Array(batchSize * length); // [B, T]
  const returns = new Float32Array(batchSize * length); // [B, T]
  for (let row = 0; row < batchSize; row += 1) {
    let nextValue = 0;
    let nextAdvantage = 0;
    for (let position = length - 1; position >= 0; position -= 1) {
      const index = row * length + position;
      const live = (maskValues[index] as number) !== 0 ? 1 : 0;
      const value = live * (valueValues[index] as number);
      const delta = live * (rewardValues[index] as number) + gamma * nextValue - value;
      const advantage = delta + gamma * lambda * nextAdvantage;
      advantages[index] = live * advantage;
      returns[index] = live * (advantage + value);
      nextValue = value;
      nextAdvantage = advantage;
    }
  }
  return {
    advantages: tf.tensor2d(advantages, [batchSize, length]),
    returns: tf.tensor2d(returns, [batchSize, length]),
  };
}
