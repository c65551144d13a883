import * as tf from '@tensorflow/tfjs';
import type { DpoLossConfig, DpoLossType } from './dpo_loss_config';

/**
 * What one loss term reads. Log-probs are summed over each completion's tokens; references are zeros when the
 * config is reference-free. Lengths (token counts) are present when a length-normalised type is in use.
 */
export interface PairLossInputs {
  readonly policyChosen: tf.Tensor1D; // [B]
  readonly policyRejected: tf.Tensor1D; // [B]
  readonly referenceChosen: tf.Tensor1D; // [B]
  readonly referenceRejected: tf.Tensor1D; // [B]
  readonly chosenLengths: tf.Tensor1D | undefined; // [B]
  readonly rejectedLengths: tf.Tensor1D | undefined; // [B]
  readonly chosenNll: tf.Tensor1D | undefined; // [B]
  /** δ of `bco_pair`: a JS number, so it carries no gradient (TRL detaches it). */
  readonly bcoRewardMean: number;
}

function required(tensor: tf.Tensor1D | undefined, name: string, type: DpoLossType): tf.Tensor1D {
  // dpoLoss validates inputs before calling; this is the typed guard.
  if (tensor === undefined) throw new Error(`pairLosses(${type}): ${name} is missing`);
  return tensor;
}

/**
 * log σ(x) = −softplus(−x). tf.logSigmoid is not used: its custom gradient reads a tensor that `tf.tidy` has
 * already disposed when the gradient is taken after the loss function returned (tfjs 4.22).
 */
function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** −logσ(βx)(1−ε) − logσ(−βx)ε: DPO's sigmoid loss with cDPO label smoothing. */
function conservativeSigmoid(scaledLogits: tf.Tensor, labelSmoothing: number): tf.Tensor {
  return tf.sub(
    tf.mul(tf.neg(logSigmoid(scaledLogits)), 1 - labelSmoothing),
    tf.mul(logSigmoid(tf.neg(scaledLogits)), labelSmoothing),
  );
}

/** Sort a [B] tensor ascending along the batch, keeping the gradient (permutation from the values, then gather). */
function sortAscending(values: tf.Tensor): tf.Tensor {
  const data = values.dataSync();
  const order = Array.from(data.keys()).sort((a, b) => (data[a] as number) - (data[b] as number));
  return tf.gather(values, tf.tensor1d(order, 'int32')); // [B]
}

/**
 * Per-pair losses [B] of one loss type. Formulas as TRL codes them (see `dpo_loss_config.ts` for versions);
 * `logits = (π_c − π_r) − (ref_c − ref_r)`, `chosenLogratio = π_c − ref_c`, `rejectedLogratio = π_r − ref_r`.
 * Call inside `tf.tidy`.
 */
export function pairLosses(type: DpoLossType, inputs: PairLossInputs, config: DpoLossConfig): tf.Tensor1D {
  return pairLossesOfAnyRank(type, inputs, config) as tf.Tensor1D; // [B]
}

function pairLossesOfAnyRank(type: DpoLossType, inputs: PairLossInputs, config: DpoLossConfig): tf.Tensor {
  const { beta, labelSmoothing } = config;
  const { policyChosen, policyRejected, referenceChosen, referenceRejected } = inputs;
  const chosenLogratio: tf.Tensor = tf.sub(policyChosen, referenceChosen); // [B]
  const rejectedLogratio: tf.Tensor = tf.sub(policyRejected, referenceRejected); // [B]
  const logits = tf.sub(chosenLogratio, rejectedLogratio); // [B]
  const average = (summed: tf.Tensor, lengths: tf.Tensor1D | undefined, name: string): tf.Tensor =>
    tf.div(summed, required(lengths, name, type));

  switch (type) {
    case 'sigmoid':
      return conservativeSigmoid(tf.mul(logits, beta), labelSmoothing);
    case 'robust':
      // Robust DPO (Chowdhury et al. 2024): (−logσ(βx)(1−ε) + logσ(−βx)ε) / (1 − 2ε).
      return tf.div(
        tf.add(
          tf.mul(tf.neg(logSigmoid(tf.mul(logits, beta))), 1 - labelSmoothing),
          tf.mul(logSigmoid(tf.mul(logits, -beta)), labelSmoothing),
        ),
        1 - 2 * labelSmoothing,
      );
    case 'exo_pair': {
      // EXO eq. (16); TRL replaces ε = 0 by 1e-3.
      const epsilon = labelSmoothing === 0 ? 1e-3 : labelSmoothing;
      const scaled = tf.mul(logits, beta);
      return tf.add(
        tf.mul(tf.sigmoid(scaled), tf.sub(logSigmoid(scaled), Math.log(1 - epsilon))),
        tf.mul(tf.sigmoid(tf.neg(scaled)), tf.sub(logSigmoid(tf.neg(scaled)), Math.log(epsilon))),
      );
    }
    case 'hinge':
      // SLiC: relu(1 − βx).
      return tf.relu(tf.sub(1, tf.mul(logits, beta)));
    case 'ipo': {
      // IPO eq. (17), (x − 1/(2τ))², with x built from average log-probs as TRL's concatenated_forward does.
      const chosenLengths = inputs.chosenLengths;
      const rejectedLengths = inputs.rejectedLengths;
      const averageLogits = tf.sub(
        tf.sub(average(policyChosen, chosenLengths, 'chosenLengths'), average(policyRejected, rejectedLengths, 'rejectedLengths')),
        tf.sub(average(referenceChosen, chosenLengths, 'chosenLengths'), average(referenceRejected, rejectedLengths, 'rejectedLengths')),
      );
      return tf.square(tf.sub(averageLogits, 1 / (2 * beta)));
    }
    case 'bco_pair':
      // BCO: −logσ(β·lr_c − δ) − logσ(−(β·lr_r − δ)), δ the running mean of the rewards (an input here).
      return tf.sub(
        tf.neg(logSigmoid(tf.sub(tf.mul(chosenLogratio, beta), inputs.bcoRewardMean))),
        logSigmoid(tf.neg(tf.sub(tf.mul(rejectedLogratio, beta), inputs.bcoRewardMean))),
      );
    case 'sppo_hard': {
      // SPPO with hard labels: (lr_c − 1/(2β))² + (lr_r + 1/(2β))².
      const half = 0.5 / beta;
      return tf.add(tf.square(tf.sub(chosenLogratio, half)), tf.square(tf.add(rejectedLogratio, half)));
    }
    case 'nca_pair': {
      // NCA: −logσ(r_c) − ½logσ(−r_c) − ½logσ(−r_r), r = β·logratio.
      const chosenReward = tf.mul(chosenLogratio, beta);
      const rejectedReward = tf.mul(rejectedLogratio, beta);
      return tf.sub(
        tf.sub(tf.neg(logSigmoid(chosenReward)), tf.mul(logSigmoid(tf.neg(chosenReward)), 0.5)),
        tf.mul(logSigmoid(tf.neg(rejectedReward)), 0.5),
      );
    }
    case 'aot_pair': {
      // AOT (unpaired): sort chosen and rejected logratios separately along the batch, then the sigmoid loss.
      const delta = tf.sub(sortAscending(chosenLogratio), sortAscending(rejectedLogratio));
      return conservativeSigmoid(tf.mul(delta, beta), labelSmoothing);
    }
    case 'aot': {
      // AOT (paired): sort policy and reference log-ratios (chosen − rejected) separately, then the sigmoid loss.
      const delta = tf.sub(
        sortAscending(tf.sub(policyChosen, policyRejected)),
        sortAscending(tf.sub(referenceChosen, referenceRejected)),
      );
      return conservativeSigmoid(tf.mul(delta, beta), labelSmoothing);
    }
    case 'apo_zero':
      // APO-zero eq. (7): (1 − σ(β·lr_c)) + σ(β·lr_r).
      return tf.add(tf.sub(1, tf.sigmoid(tf.mul(chosenLogratio, beta))), tf.sigmoid(tf.mul(rejectedLogratio, beta)));
    case 'apo_down':
      // APO-down eq. (8): σ(β·lr_c) + (1 − σ(β·(lr_c − lr_r))).
      return tf.add(tf.sigmoid(tf.mul(chosenLogratio, beta)), tf.sub(1, tf.sigmoid(tf.mul(logits, beta))));
    case 'discopop': {
      // DiscoPOP eq. (5): blend of logistic and exponential losses, mixed by σ(βx/τ).
      const scaled = tf.mul(logits, beta);
      const modulation = tf.sigmoid(tf.div(scaled, config.discopopTau));
      return tf.add(
        tf.mul(tf.neg(logSigmoid(scaled)), tf.sub(1, modulation)),
        tf.mul(tf.exp(tf.neg(scaled)), modulation),
      );
    }
    case 'sigmoid_norm': {
      // TRL 1.7: −logσ(β·(lr_c/|y_c| − lr_r/|y_r|)) (no label smoothing).
      const delta = tf.sub(
        average(chosenLogratio, inputs.chosenLengths, 'chosenLengths'),
        average(rejectedLogratio, inputs.rejectedLengths, 'rejectedLengths'),
      );
      return tf.neg(logSigmoid(tf.mul(delta, beta)));
    }
    case 'simpo': {
      // SimPO (TRL CPOTrainer, loss_type "simpo"): x = avg_c − avg_r − γ/β, then the cDPO sigmoid loss of βx.
      const delta = tf.sub(
        tf.sub(
          average(policyChosen, inputs.chosenLengths, 'chosenLengths'),
          average(policyRejected, inputs.rejectedLengths, 'rejectedLengths'),
        ),
        config.simpoGamma / beta,
      );
      return conservativeSigmoid(tf.mul(delta, beta), labelSmoothing);
    }
    case 'orpo': {
      // ORPO (TRL ORPOTrainer.odds_ratio_loss), average log-probs a: log odds(a) = a − log(1 − e^a);
      // loss = NLL_c − λ·logσ(log odds_c − log odds_r).
      const chosenAverage = average(policyChosen, inputs.chosenLengths, 'chosenLengths');
      const rejectedAverage = average(policyRejected, inputs.rejectedLengths, 'rejectedLengths');
      const logOdds = tf.sub(
        tf.sub(chosenAverage, rejectedAverage),
        tf.sub(tf.log1p(tf.neg(tf.exp(chosenAverage))), tf.log1p(tf.neg(tf.exp(rejectedAverage)))),
      );
      return tf.sub(required(inputs.chosenNll, 'chosenNll', type), tf.mul(logSigmoid(logOdds), config.orpoLambda));
    }
    default: {
      const unreachable: never = type;
      throw new Error(`pairLosses: unknown loss type ${String(unreachable)}`);
    }
  }
}
