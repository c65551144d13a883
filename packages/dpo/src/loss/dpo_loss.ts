import * as tf from '@tensorflow/tfjs';
import { aggregateLoss, ConfigError, ShapeError } from '@rlhfjs/core';
import {
  LENGTH_NORMALISED_DPO_LOSS_TYPES,
  REFERENCE_FREE_DPO_LOSS_TYPES,
  type DpoLossConfig,
  type DpoLossType,
} from './dpo_loss_config';
import { pairLosses } from './pair_losses';

/**
 * Inputs of `dpoLoss`: summed sequence log-probs of each completion, one entry per preference pair.
 * The caller keeps ownership of every tensor it passes.
 */
export interface DpoLossInputs {
  readonly policyChosenLogps: tf.Tensor1D; // [B]
  readonly policyRejectedLogps: tf.Tensor1D; // [B]
  /** Required unless `referenceFree` or every loss type is reference-free (`simpo`, `orpo`). */
  readonly referenceChosenLogps?: tf.Tensor1D; // [B]
  readonly referenceRejectedLogps?: tf.Tensor1D; // [B]
  /** Completion token counts (> 0); required by `ipo`, `sigmoid_norm`, `simpo`, `orpo`. */
  readonly chosenLengths?: tf.Tensor1D; // [B]
  readonly rejectedLengths?: tf.Tensor1D; // [B]
  /** Per-pair NLL of the chosen completion (mean over its tokens); required by `orpo` and by `rpoAlpha`. */
  readonly chosenNll?: tf.Tensor1D; // [B]
  /**
   * δ of `bco_pair`: the running mean of the implicit rewards (TRL keeps a `RunningMoments` updated with the
   * batch mean of `[β·lr_c, β·lr_r]` before using it). When absent, the current batch mean is used — what TRL's
   * running mean equals on its first step. A trainer keeps the running mean across steps and passes it here.
   */
  readonly bcoRewardMean?: number;
}

/** Plain-number metrics, named as TRL logs them (means over the batch). */
export interface DpoLossMetrics {
  readonly 'rewards/chosen': number;
  readonly 'rewards/rejected': number;
  readonly 'rewards/accuracies': number;
  readonly 'rewards/margins': number;
  readonly 'logps/chosen': number;
  readonly 'logps/rejected': number;
}

export interface DpoLossResult {
  /** Per-pair losses, the weighted sum over loss terms (+ RPO term). [B] */
  readonly losses: tf.Tensor1D;
  /** Mean of `losses` (the share of the global mean, given a `DpoLossAggregation`). [] */
  readonly loss: tf.Scalar;
  /** Implicit rewards, detached (built from values, so no gradient reaches them). [B] */
  readonly chosenRewards: tf.Tensor1D;
  readonly rejectedRewards: tf.Tensor1D; // [B]
  readonly metrics: DpoLossMetrics;
}

function checkShape(name: string, tensor: tf.Tensor | undefined, batchSize: number, problems: string[]): void {
  if (tensor === undefined) return;
  if (tensor.rank !== 1 || tensor.shape[0] !== batchSize) {
    problems.push(`${name} must have shape [${batchSize}] like policyChosenLogps, got [${tensor.shape.join(', ')}]`);
  }
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let index = 0; index < values.length; index += 1) sum += values[index] as number;
  return values.length === 0 ? 0 : sum / values.length;
}

/**
 * How the first loss term reads log-probs for rewards and `logps/*` metrics: TRL's IPO averages log-probs in
 * `concatenated_forward`, so its rewards are from averages; CPO (SimPO) and ORPO report `β · average log-prob`.
 */
function rewardView(type: DpoLossType): { average: boolean; useReference: boolean } {
  switch (type) {
    case 'ipo':
      return { average: true, useReference: true };
    case 'simpo':
    case 'orpo':
      return { average: true, useReference: false };
    case 'sigmoid':
    case 'hinge':
    case 'robust':
    case 'exo_pair':
    case 'nca_pair':
    case 'bco_pair':
    case 'sppo_hard':
    case 'aot':
    case 'aot_pair':
    case 'apo_zero':
    case 'apo_down':
    case 'discopop':
    case 'sigmoid_norm':
      return { average: false, useReference: true };
    default: {
      const unreachable: never = type;
      throw new Error(`rewardView: unknown loss type ${String(unreachable)}`);
    }
  }
}

/**
 * How `loss` is normalised, through core's `aggregateLoss`: pairs of the whole optimizer step (all micro-batches of
 * all ranks) and the number of ranks, so that accumulation and data parallelism equal one big batch. Absent: the
 * mean over this batch's pairs.
 */
export interface DpoLossAggregation {
  readonly globalPairCount?: number;
  readonly worldSize?: number;
}

/**
 * The DPO loss family over summed sequence log-probs: a pure function returning per-pair losses, their mean,
 * detached implicit rewards `β·(log π − log π_ref)` and TRL-named metrics. Formulas: see `pair_losses.ts`.
 */
export function dpoLoss(inputs: DpoLossInputs, config: DpoLossConfig, aggregation: DpoLossAggregation = {}): DpoLossResult {
  const batchSize = inputs.policyChosenLogps.shape[0];
  const types = config.terms.map((term) => term.type);
  const needsReference =
    !config.referenceFree && types.some((type) => !REFERENCE_FREE_DPO_LOSS_TYPES.includes(type));
  const needsLengths = types.some((type) => LENGTH_NORMALISED_DPO_LOSS_TYPES.includes(type));
  const needsNll = types.includes('orpo') || config.rpoAlpha !== undefined;

  const problems: string[] = [];
  checkShape('policyChosenLogps', inputs.policyChosenLogps, batchSize, problems);
  checkShape('policyRejectedLogps', inputs.policyRejectedLogps, batchSize, problems);
  checkShape('referenceChosenLogps', inputs.referenceChosenLogps, batchSize, problems);
  checkShape('referenceRejectedLogps', inputs.referenceRejectedLogps, batchSize, problems);
  checkShape('chosenLengths', inputs.chosenLengths, batchSize, problems);
  checkShape('rejectedLengths', inputs.rejectedLengths, batchSize, problems);
  checkShape('chosenNll', inputs.chosenNll, batchSize, problems);
  if (problems.length > 0) throw new ShapeError(`dpoLoss: ${problems.join('; ')}`);

  const missing: string[] = [];
  if (needsReference && (inputs.referenceChosenLogps === undefined || inputs.referenceRejectedLogps === undefined)) {
    missing.push(`referenceChosenLogps and referenceRejectedLogps are required by loss types ${types.join(', ')} unless referenceFree`);
  }
  if (needsLengths && (inputs.chosenLengths === undefined || inputs.rejectedLengths === undefined)) {
    missing.push(`chosenLengths and rejectedLengths are required by ${LENGTH_NORMALISED_DPO_LOSS_TYPES.join('/')}`);
  }
  if (needsNll && inputs.chosenNll === undefined) missing.push('chosenNll is required by orpo and by rpoAlpha');
  if (missing.length > 0) throw new ConfigError('dpoLoss inputs', missing);
  for (const [name, lengths] of [
    ['chosenLengths', inputs.chosenLengths],
    ['rejectedLengths', inputs.rejectedLengths],
  ] as const) {
    if (lengths !== undefined && lengths.dataSync().some((length) => !(length > 0))) {
      throw new ShapeError(`dpoLoss: ${name} must all be > 0, got [${Array.from(lengths.dataSync()).join(', ')}]`);
    }
  }

  const first = rewardView(types[0] ?? 'sigmoid');
  const useReference = !config.referenceFree && first.useReference;
  let values: Record<'policyChosen' | 'policyRejected' | 'referenceChosen' | 'referenceRejected', Float32Array> = {
    policyChosen: new Float32Array(0),
    policyRejected: new Float32Array(0),
    referenceChosen: new Float32Array(0),
    referenceRejected: new Float32Array(0),
  };
  tf.tidy(() => {
    const view = (summed: tf.Tensor1D, lengths: tf.Tensor1D | undefined): Float32Array =>
      Float32Array.from((first.average && lengths !== undefined ? tf.div(summed, lengths) : summed).dataSync());
    const zeros = new Float32Array(batchSize);
    values = {
      policyChosen: view(inputs.policyChosenLogps, inputs.chosenLengths),
      policyRejected: view(inputs.policyRejectedLogps, inputs.rejectedLengths),
      referenceChosen:
        useReference && inputs.referenceChosenLogps ? view(inputs.referenceChosenLogps, inputs.chosenLengths) : zeros,
      referenceRejected:
        useReference && inputs.referenceRejectedLogps ? view(inputs.referenceRejectedLogps, inputs.rejectedLengths) : zeros,
    };
  });
  const chosenRewardValues = values.policyChosen.map((logp, index) => config.beta * (logp - (values.referenceChosen[index] as number)));
  const rejectedRewardValues = values.policyRejected.map(
    (logp, index) => config.beta * (logp - (values.referenceRejected[index] as number)),
  );

  // bco_pair's δ: β·(π − ref) over the summed log-probs, the batch mean of chosen and rejected together.
  let bcoRewardMean = inputs.bcoRewardMean ?? 0;
  if (inputs.bcoRewardMean === undefined && types.includes('bco_pair')) {
    const policy = [...inputs.policyChosenLogps.dataSync(), ...inputs.policyRejectedLogps.dataSync()];
    const reference =
      config.referenceFree || !inputs.referenceChosenLogps || !inputs.referenceRejectedLogps
        ? policy.map(() => 0)
        : [...inputs.referenceChosenLogps.dataSync(), ...inputs.referenceRejectedLogps.dataSync()];
    bcoRewardMean = mean(policy.map((logp, index) => config.beta * (logp - (reference[index] as number))));
  }

  const { losses, loss } = tf.tidy(() => {
    const zeros = tf.zeros([batchSize]) as tf.Tensor1D;
    const referenceFor = (tensor: tf.Tensor1D | undefined): tf.Tensor1D =>
      config.referenceFree || tensor === undefined ? zeros : tensor;
    const pairInputs = {
      policyChosen: inputs.policyChosenLogps,
      policyRejected: inputs.policyRejectedLogps,
      referenceChosen: referenceFor(inputs.referenceChosenLogps),
      referenceRejected: referenceFor(inputs.referenceRejectedLogps),
      chosenLengths: inputs.chosenLengths,
      rejectedLengths: inputs.rejectedLengths,
      chosenNll: inputs.chosenNll,
      bcoRewardMean,
    };
    let total: tf.Tensor1D = zeros;
    for (const term of config.terms) total = tf.add(total, tf.mul(pairLosses(term.type, pairInputs, config), term.weight));
    if (config.rpoAlpha !== undefined && inputs.chosenNll !== undefined) {
      total = tf.add(total, tf.mul(inputs.chosenNll, config.rpoAlpha)); // RPO: + α·NLL_c
    }
    // One pair is one "sequence" of one token: aggregateLoss gives the (global) mean over pairs.
    const perPair = tf.expandDims(total, 1); // [B, 1]
    const loss = aggregateLoss(perPair, tf.ones(perPair.shape), { mode: 'sequence', globalSequenceCount: aggregation.globalPairCount, worldSize: aggregation.worldSize });
    return { losses: total, loss };
  });

  const margins = chosenRewardValues.map((chosen, index) => chosen - (rejectedRewardValues[index] as number));
  const metrics: DpoLossMetrics = Object.freeze({
    'rewards/chosen': mean(chosenRewardValues),
    'rewards/rejected': mean(rejectedRewardValues),
    'rewards/accuracies': mean(margins.map((margin) => (margin > 0 ? 1 : 0))),
    'rewards/margins': mean(margins),
    'logps/chosen': mean(values.policyChosen),
    'logps/rejected': mean(values.policyRejected),
  });
  return {
    losses,
    loss,
    chosenRewards: tf.tensor1d(chosenRewardValues),
    rejectedRewards: tf.tensor1d(rejectedRewardValues),
    metrics,
  };
}
