import * as tf from '@tensorflow/tfjs';
import { ConfigError, enableGradientCheckpointing, Trainer, type AdamW, type GradientReducer, type LogRecord, type LossResult, type StepCounts, type TrainResult } from '@rlhfjs/core';
import { collatePreferenceBatch, tokenizePreferencePairs, type PreferenceExample, type PreferenceTokenizer, type TokenizedPair } from '../data/preference_pairs';
import { evaluateRewardModel, type RewardEvaluation } from '../eval/evaluate_reward_model';
import { pairwiseRewardLoss } from '../loss/pairwise_loss';
import type { RewardModel } from '../model/reward_model';
import { resolveRewardTrainerConfig, splitRewardTrainerOptions, type RewardTrainerConfig, type RewardTrainerOptions } from './reward_trainer_config';

export interface RewardTrainerInputs {
  model: RewardModel;
  tokenizer: PreferenceTokenizer;
  /** Preference pairs in TRL's formats (plain or conversational, explicit or implicit prompt). */
  trainDataset: readonly PreferenceExample[];
  /** Held-out pairs, evaluated every `evalEvery` steps and at the end. */
  evalDataset?: readonly PreferenceExample[];
  /** All-reduce across ranks (identity when omitted), e.g. the DDP reducer of @rlhfjs/dist. */
  reducer?: GradientReducer;
  /** Default: AdamW with the configured weight decay. */
  optimizer?: AdamW;
  /**
   * Writes the reward model into a folder for every `checkpoint-N/` (e.g. `saveRewardModel` + the tokenizer files),
   * so checkpoints load as models; unset, checkpoints hold only the trainer state.
   */
  saveModel?: (directory: string) => Promise<void>;
}

/** One optimizer step as core's Trainer logs it, with the reward metrics (averaged over the step's micro-batches). */
export interface RewardLogRecord extends LogRecord {
  step: number;
  loss: number;
  learningRate: number;
  gradNorm: number;
  tokensPerSecond: number;
  /** 1 when the update was skipped for a non-finite loss (onNonFinite: 'skip'). */
  skipped: number;
  accuracy: number;
  margin: number;
  'rewards/chosen': number;
  'rewards/rejected': number;
}

export interface RewardTrainResult {
  steps: number;
  history: RewardLogRecord[];
  evaluations: Array<RewardEvaluation & { step: number }>;
  /** Training pairs left out because chosen and rejected were identical. */
  skippedIdenticalPairs: number;
  /** Training pairs left out because a side was longer than maxLength. */
  skippedTooLong: number;
  lastCheckpoint: string | null;
}

/**
 * Trains a reward model on preference pairs (TRL's RewardTrainer semantics) on core's shared Trainer loop
 * (accumulation, all-reduce, clipping, checkpoints, resume, JSONL log, progress bar, NaN handling). Chosen and
 * rejected sides of a micro-batch go through ONE forward pass ([2B, T]); the micro-batch loss is
 * Σ per-pair losses / (pairs in the whole step) × worldSize, so accumulation and data-parallel ranks equal one
 * big batch. It updates `model.trainableParameters()` only (the whole backbone and head, or LoRA/QLoRA adapters
 * and the head). With `gradientCheckpointing` the backbone recomputes each block in the backward pass.
 */
export class RewardTrainer {
  readonly config: RewardTrainerConfig;
  readonly trainer: Trainer<TokenizedPair>;
  readonly trainPairs: readonly TokenizedPair[];
  readonly evalPairs: readonly TokenizedPair[];
  readonly skippedIdenticalPairs: number;
  readonly skippedTooLong: number;
  private readonly model: RewardModel;
  private readonly padTokenId: number;
  /** Puts the backbone's own block function back (gradientCheckpointing); a no-op without it. */
  private readonly undoCheckpointing: () => void;

  constructor(inputs: RewardTrainerInputs, options: RewardTrainerOptions = {}) {
    this.config = resolveRewardTrainerConfig(options);
    this.model = inputs.model;
    this.padTokenId = inputs.tokenizer.padTokenId;
    const train = tokenizePreferencePairs(inputs.trainDataset, inputs.tokenizer, { maxLength: this.config.maxLength });
    const held = inputs.evalDataset === undefined ? null : tokenizePreferencePairs(inputs.evalDataset, inputs.tokenizer, { maxLength: this.config.maxLength });
    this.trainPairs = train.pairs;
    this.evalPairs = held?.pairs ?? [];
    this.skippedIdenticalPairs = train.skippedIdenticalPairs;
    this.skippedTooLong = train.skippedTooLong;
    if (train.skippedIdenticalPairs > 0) {
      console.warn(
        `RewardTrainer: ${train.skippedIdenticalPairs} of ${inputs.trainDataset.length} training pairs have identical chosen and rejected ` +
          `sides (e.g. pair ${train.identicalIndices[0]}); they carry no preference and are left out of training`,
      );
    }
    if (held !== null && held.skippedIdenticalPairs > 0) console.warn(`RewardTrainer: ${held.skippedIdenticalPairs} identical evaluation pairs are left out`);
    if (train.skippedTooLong > 0) console.warn(`RewardTrainer: ${train.skippedTooLong} training pairs are longer than maxLength ${this.config.maxLength} and are left out`);
    const parameters = inputs.model.trainableParameters();
    if (parameters.size === 0) throw new ConfigError('RewardTrainer', ['the model has no trainable parameters']);
    this.trainer = new Trainer<TokenizedPair>(
      {
        name: 'reward',
        examples: this.trainPairs,
        parameters,
        computeLoss: (batch, counts) => this.computeLoss(batch, counts),
        countUnits: (batch) => ({ tokens: batch.reduce((sum, pair) => sum + pair.chosenIds.length + pair.rejectedIds.length, 0), sequences: batch.length }),
        evaluate: this.evalPairs.length === 0 ? undefined : async () => ({ ...(await this.evaluate()) }),
        ...(inputs.saveModel === undefined ? {} : { saveModel: inputs.saveModel }),
      },
      splitRewardTrainerOptions(options).trainerOptions,
      { reducer: inputs.reducer, optimizer: inputs.optimizer },
    );
    // last, so that a constructor that throws leaves the model as it came
    this.undoCheckpointing = this.config.gradientCheckpointing ? enableGradientCheckpointing(inputs.model.backbone) : () => undefined;
  }

  get optimizer(): AdamW {
    return this.trainer.optimizer;
  }

  /** Pairs one optimizer step consumes across all ranks. */
  get pairsPerStep(): number {
    return this.trainer.examplesPerStep;
  }

  get totalSteps(): number {
    return this.trainer.totalSteps;
  }

  /**
   * Loss of one micro-batch: Σ per-pair losses × worldSize / counts.sequences (the pairs of the whole step), so
   * the step's gradient (summed over micro-batches, averaged over ranks) is that of the mean over all its pairs.
   */
  computeLoss(batch: readonly TokenizedPair[], counts: StepCounts): LossResult {
    const collated = collatePreferenceBatch(batch, this.padTokenId, this.config.paddingSide);
    let metrics: Record<string, number> = {};
    const loss = tf.tidy(() => {
      const inputIds = tf.tensor2d(collated.inputIds, undefined, 'int32'); // [2B, T]
      const attentionMask = tf.tensor2d(collated.attentionMask, undefined, 'int32'); // [2B, T]
      const rewards = this.model.rewards(inputIds, attentionMask); // [2B]
      const chosen = tf.slice(rewards, [0], [batch.length]) as tf.Tensor1D; // [B]
      const rejected = tf.slice(rewards, [batch.length], [batch.length]) as tf.Tensor1D; // [B]
      const margin = collated.margins === null ? undefined : tf.tensor1d(collated.margins); // [B]
      const result = pairwiseRewardLoss(
        { chosen, rejected, margin },
        { centerRewardsCoefficient: this.config.centerRewardsCoefficient, globalPairCount: counts.sequences, worldSize: counts.worldSize },
      );
      metrics = { ...result.metrics };
      return result.loss;
    });
    return { loss, metrics };
  }

  async evaluate(): Promise<RewardEvaluation> {
    if (this.evalPairs.length === 0) throw new ConfigError('RewardTrainer.evaluate', ['no evaluation pairs (pass evalDataset)']);
    return evaluateRewardModel(this.model, this.evalPairs, { batchSize: this.config.evalBatchSize, padTokenId: this.padTokenId, paddingSide: this.config.paddingSide });
  }

  async train(): Promise<RewardTrainResult> {
    const result: TrainResult = await this.trainer.train();
    const evaluations = result.evaluations.map((record) => {
      const metric = (key: keyof RewardEvaluation): number => record[`eval/${key}`] as number;
      return { step: record.step, accuracy: metric('accuracy'), meanMargin: metric('meanMargin'), meanChosen: metric('meanChosen'), meanRejected: metric('meanRejected'), count: metric('count'), ties: metric('ties') };
    });
    return {
      steps: result.steps,
      history: result.history as RewardLogRecord[],
      evaluations,
      skippedIdenticalPairs: this.skippedIdenticalPairs,
      skippedTooLong: this.skippedTooLong,
      lastCheckpoint: result.lastCheckpoint,
    };
  }

  /** Frees the optimizer state and undoes gradientCheckpointing on the backbone; the model stays the caller's. */
  dispose(): void {
    this.trainer.dispose();
    this.undoCheckpointing();
  }
}
