import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@rlhfjs/core';
import { klPerToken, type KlEstimator } from '../kl/kl_estimators';

export interface PerTokenRewardInputs {
  /** Sequence-level scores from the reward function. [B] */
  readonly scores: tf.Tensor1D;
  /** Policy log-probs of the sampled response tokens. [B, T] */
  readonly logprobs: tf.Tensor2D;
  /** Reference log-probs of the same tokens. [B, T] */
  readonly refLogprobs: tf.Tensor2D;
  /** 1 on real response tokens, 0 on padding (right-padded). [B, T] */
  readonly responseMask: tf.Tensor2D;
}

export interface PerTokenRewardOptions {
  /** KL coefficient β (a KL controller's `value`). */
  readonly klCoef: number;
  readonly estimator: KlEstimator;
  /** Clip the (penalised) score to [−scoreClip, scoreClip] (OpenRLHF `reward_clip_range`). Default: no clip. */
  readonly scoreClip?: number;
  /** Subtracted from the score of rows with `hasEos` false (TRL `missing_eos_penalty`). Default: none. */
  readonly missingEosPenalty?: number;
  /** Whether each response ended with EOS (see `truncateAtStopToken`); required with `missingEosPenalty`. */
  readonly hasEos?: readonly boolean[] | tf.Tensor1D;
}

export interface PerTokenRewards {
  /** −β·KL_t on every response token, plus the final score on the last real token. [B, T] */
  readonly rewards: tf.Tensor2D;
  /** The per-token KL estimate, 0 outside the mask. [B, T] */
  readonly kl: tf.Tensor2D;
  /** Mean over rows of Σ_t −β·KL_t (TRL's `objective/non_score_reward`). */
  readonly nonScoreReward: number;
  /** The scores actually added (after the missing-EOS penalty, then clipping). */
  readonly finalScores: number[];
}

/**
 * The token-level MDP rewards of RLHF-PPO (Ziegler et al. 2019; TRL `PPOTrainer`, OpenRLHF `compute_reward`).
 * Where the score lands: on the last real response token of each row, as OpenRLHF does (TRL places it one
 * position later, on the first padding position when there is one; this library follows the design's rule).
 * Order of score adjustments: missing-EOS penalty (TRL), then clipping.
 */
export function computePerTokenRewards(inputs: PerTokenRewardInputs, options: PerTokenRewardOptions): PerTokenRewards {
  const { scores, logprobs, refLogprobs, responseMask } = inputs;
  const [batchSize, length] = logprobs.shape;
  if (
    !tf.util.arraysEqual(refLogprobs.shape, logprobs.shape) ||
    !tf.util.arraysEqual(responseMask.shape, logprobs.shape) ||
    scores.rank !== 1 ||
    scores.shape[0] !== batchSize
  ) {
    throw new ShapeError(
      `computePerTokenRewards: expected scores [${batchSize}] and refLogprobs/responseMask [${batchSize}, ${length}] like logprobs; ` +
        `got scores [${scores.shape.join(', ')}], refLogprobs [${refLogprobs.shape.join(', ')}], responseMask [${responseMask.shape.join(', ')}]`,
    );
  }
  const problems: string[] = [];
  if (!(Number.isFinite(options.klCoef) && options.klCoef >= 0)) problems.push(`klCoef must be >= 0, got ${options.klCoef}`);
  if (options.scoreClip !== undefined && !(options.scoreClip > 0)) problems.push(`scoreClip must be > 0, got ${options.scoreClip}`);
  if (options.missingEosPenalty !== undefined && options.hasEos === undefined) {
    problems.push('missingEosPenalty needs hasEos (one boolean per row)');
  }
  const hasEos =
    options.hasEos === undefined
      ? undefined
      : options.hasEos instanceof tf.Tensor
        ? Array.from(options.hasEos.dataSync(), (value) => value !== 0)
        : [...options.hasEos];
  if (hasEos !== undefined && hasEos.length !== batchSize) problems.push(`hasEos has ${hasEos.length} entries, expected ${batchSize}`);
  if (problems.length > 0) throw new ConfigError('computePerTokenRewards', problems);

  const maskValues = responseMask.dataSync();
  const scoreValues = scores.dataSync();
  const placement = new Float32Array(batchSize * length); // [B, T] the final score at each row's last real token
  const finalScores: number[] = [];
  for (let row = 0; row < batchSize; row += 1) {
    let last = -1;
    for (let position = 0; position < length; position += 1) if (maskValues[row * length + position] !== 0) last = position;
    if (last < 0) throw new ShapeError(`computePerTokenRewards: row ${row} of responseMask has no response token`);
    let score = scoreValues[row] as number;
    if (options.missingEosPenalty !== undefined && hasEos?.[row] === false) score -= options.missingEosPenalty;
    if (options.scoreClip !== undefined) score = Math.min(Math.max(score, -options.scoreClip), options.scoreClip);
    finalScores.push(score);
    placement[row * length + last] = score;
  }

  const { rewards, kl, nonScoreRewardTensor } = tf.tidy(() => {
    const maskedKl = tf.mul(klPerToken(logprobs, refLogprobs, options.estimator), responseMask) as tf.Tensor2D; // [B, T]
    const nonScore = tf.mul(maskedKl, -options.klCoef); // [B, T]
    return {
      rewards: tf.add(nonScore, tf.tensor2d(placement, [batchSize, length])) as tf.Tensor2D, // [B, T]
      kl: maskedKl,
      nonScoreRewardTensor: tf.mean(tf.sum(nonScore, 1)), // []
    };
  });
  const nonScoreReward = nonScoreRewardTensor.dataSync()[0] as number;
  nonScoreRewardTensor.dispose();
  return { rewards, kl, nonScoreReward, finalScores };
}
