import * as tf from '@tensorflow/tfjs';
import { AdamW, ConfigError, GradientAccumulator, IdentityReducer, TrainingError, clipGradNorm, createLrSchedule, createRng, type GradientReducer } from '@rlhfjs/core';
import { collatePreferenceBatch, tokenizePreferencePairs, type PreferenceExample, type PreferenceTokenizer, type TokenizedPair } from '../data/preference_pairs';
import { evaluateRewardModel, type RewardEvaluation } from '../eval/evaluate_reward_model';
import { pairwiseRewardLoss } from '../loss/pairwise_loss';
import type { RewardModel } from '../model/reward_model';
import { resolveRewardTrainerConfig, type RewardTrainerConfig, type RewardTrainerOptions } from './reward_trainer_config';
import { latestRewardTrainerCheckpoint, loadRewardTrainerCheckpoint, saveRewardTrainerCheckpoint } from './trainer_checkpoint';

export interface RewardTrainerInputs {
  model: RewardModel;
  tokenizer: PreferenceTokenizer;
  /** Preference pairs in TRL's formats (plain or conversational, explicit or implicit prompt). */
  trainDataset: readonly PreferenceExample[];
  /** Held-out pairs, evaluated every `evalEvery` steps and at the end. */
  evalDataset?: readonly PreferenceExample[];
  /** All-reduce across ranks (identity when omitted). */
  reducer?: GradientReducer;
  /** Default: AdamW with the configured weight decay. */
  optimizer?: AdamW;
  /** Called after every optimizer step with its log record (e.g. to print or plot). */
  onLog?: (record: RewardLogRecord) => void;
}

export interface RewardLogRecord {
  step: number;
  loss: number;
  learningRate: number;
  gradNorm: number;
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

/** A seeded permutation of 0..count−1 for one epoch, the same on every rank. */
function epochOrder(count: number, seed: number, epoch: number): number[] {
  const rng = createRng(seed * 1000003 + epoch);
  const order = Array.from({ length: count }, (_, index) => index);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/**
 * Trains a reward model on preference pairs (TRL's RewardTrainer semantics): chosen and rejected sides of a
 * micro-batch go through ONE forward pass ([2B, T]), the pairwise loss with optional margin and centering, the
 * step's loss is the mean over all its pairs (micro-batches and ranks), gradients are all-reduced, clipped and applied
 * to `model.trainableParameters()` only (the whole backbone and head, or LoRA/QLoRA adapters and the head).
 */
export class RewardTrainer {
  readonly config: RewardTrainerConfig;
  readonly optimizer: AdamW;
  readonly trainPairs: readonly TokenizedPair[];
  readonly evalPairs: readonly TokenizedPair[];
  readonly skippedIdenticalPairs: number;
  readonly skippedTooLong: number;
  private readonly model: RewardModel;
  private readonly reducer: GradientReducer;
  private readonly padTokenId: number;
  private readonly onLog: ((record: RewardLogRecord) => void) | undefined;

  constructor(inputs: RewardTrainerInputs, options: RewardTrainerOptions = {}) {
    this.config = resolveRewardTrainerConfig(options);
    this.model = inputs.model;
    this.reducer = inputs.reducer ?? new IdentityReducer();
    this.optimizer = inputs.optimizer ?? new AdamW({ weightDecay: this.config.weightDecay });
    this.padTokenId = inputs.tokenizer.padTokenId;
    this.onLog = inputs.onLog;
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
  }

  get pairsPerStep(): number {
    return this.config.batchSize * this.config.gradientAccumulationSteps * this.reducer.worldSize;
  }

  get totalSteps(): number {
    return this.config.maxSteps ?? Math.max(1, Math.floor(this.trainPairs.length / this.pairsPerStep) * this.config.epochs);
  }

  /** Loss of one micro-batch, scaled so that the step's gradient (summed over micro-batches, averaged over ranks) is that of the mean over all its pairs. */
  computeLoss(batch: readonly TokenizedPair[], stepPairs: number): { loss: tf.Scalar; metrics: Record<string, number> } {
    const collated = collatePreferenceBatch(batch, this.padTokenId, this.config.paddingSide);
    let metrics: Record<string, number> = {};
    const loss = tf.tidy(() => {
      const inputIds = tf.tensor2d(collated.inputIds, undefined, 'int32'); // [2B, T]
      const attentionMask = tf.tensor2d(collated.attentionMask, undefined, 'int32'); // [2B, T]
      const rewards = this.model.rewards(inputIds, attentionMask); // [2B]
      const chosen = tf.slice(rewards, [0], [batch.length]) as tf.Tensor1D; // [B]
      const rejected = tf.slice(rewards, [batch.length], [batch.length]) as tf.Tensor1D; // [B]
      const margin = collated.margins === null ? undefined : tf.tensor1d(collated.margins);
      const result = pairwiseRewardLoss({ chosen, rejected, margin }, { centerRewardsCoefficient: this.config.centerRewardsCoefficient });
      metrics = { ...result.metrics };
      return tf.mul(result.loss, (batch.length * this.reducer.worldSize) / stepPairs) as tf.Scalar;
    });
    return { loss, metrics };
  }

  async evaluate(): Promise<RewardEvaluation> {
    if (this.evalPairs.length === 0) throw new ConfigError('RewardTrainer.evaluate', ['no evaluation pairs (pass evalDataset)']);
    return evaluateRewardModel(this.model, this.evalPairs, { batchSize: this.config.evalBatchSize, padTokenId: this.padTokenId, paddingSide: this.config.paddingSide });
  }

  async train(): Promise<RewardTrainResult> {
    const { config, reducer } = this;
    const count = this.trainPairs.length;
    if (count < this.pairsPerStep) {
      throw new ConfigError('RewardTrainer', [`${count} usable training pairs are fewer than one optimizer step needs (${this.pairsPerStep} = batchSize × gradientAccumulationSteps × worldSize)`]);
    }
    const parameters = this.model.trainableParameters();
    const variables = [...parameters.values()];
    const nameOf = new Map([...parameters].map(([name, variable]) => [variable.name, name]));
    const total = this.totalSteps;
    const schedule = createLrSchedule({ type: config.lrScheduler, learningRate: config.learningRate, warmupSteps: config.warmupSteps, totalSteps: total });
    let step = 0;
    let consumed = 0;
    let lastCheckpoint: string | null = null;
    const resumeDirectory = config.resumeFrom === 'latest' ? await latestRewardTrainerCheckpoint(config.outputDir as string) : config.resumeFrom;
    if (resumeDirectory !== null) {
      ({ step, consumed } = await loadRewardTrainerCheckpoint(resumeDirectory, parameters, this.optimizer));
      lastCheckpoint = resumeDirectory;
    }
    let order = epochOrder(count, config.seed, Math.floor(consumed / count));
    const nextMicroBatch = (): TokenizedPair[] => {
      const globalSize = config.batchSize * reducer.worldSize;
      if ((consumed % count) + globalSize > count) consumed += count - (consumed % count); // a batch never straddles epochs
      if (consumed % count === 0) order = epochOrder(count, config.seed, consumed / count);
      const start = (consumed % count) + reducer.rank * config.batchSize;
      consumed += globalSize;
      return Array.from({ length: config.batchSize }, (_, i) => this.trainPairs[order[start + i] as number] as TokenizedPair);
    };
    const history: RewardLogRecord[] = [];
    const evaluations: RewardTrainResult['evaluations'] = [];
    while (step < total) {
      const learningRate = schedule(step);
      const accumulator = new GradientAccumulator();
      let loss = 0;
      const metricSums: Record<string, number> = {};
      try {
        for (let micro = 0; micro < config.gradientAccumulationSteps; micro++) {
          const batch = nextMicroBatch();
          let metrics: Record<string, number> = {};
          const { value, grads } = tf.variableGrads(() => {
            const result = this.computeLoss(batch, this.pairsPerStep);
            metrics = result.metrics;
            return result.loss;
          }, variables);
          loss += (await value.data())[0] as number;
          value.dispose();
          for (const [key, metric] of Object.entries(metrics)) metricSums[key] = (metricSums[key] ?? 0) + metric / config.gradientAccumulationSteps;
          const named: tf.NamedTensorMap = {};
          for (const [variableName, gradient] of Object.entries(grads)) named[nameOf.get(variableName) as string] = gradient;
          accumulator.add(named);
          tf.dispose(Object.values(grads));
        }
        const summed = accumulator.take();
        const reduced = await reducer.allReduceGradients(summed);
        if (reduced !== summed) tf.dispose(Object.values(summed));
        const clipped = clipGradNorm(reduced, config.maxGradNorm ?? Number.MAX_VALUE);
        try {
          if (!Number.isFinite(loss) || !Number.isFinite(clipped.totalNorm)) {
            throw new TrainingError('NON_FINITE_LOSS', `RewardTrainer: loss ${loss}, gradient norm ${clipped.totalNorm} at step ${step + 1}; lower the learning rate or check the data`, { step: step + 1 });
          }
          this.optimizer.step(parameters, clipped.grads, learningRate);
          step += 1;
          const [globalLoss] = await reducer.allReduceSum([loss]);
          const record: RewardLogRecord = { step, loss: (globalLoss as number) / reducer.worldSize, learningRate, gradNorm: clipped.totalNorm, ...(metricSums as Omit<RewardLogRecord, 'step' | 'loss' | 'learningRate' | 'gradNorm'>) };
          history.push(record);
        } finally {
          if (clipped.grads !== reduced) tf.dispose(Object.values(clipped.grads));
          tf.dispose(Object.values(reduced));
        }
      } finally {
        accumulator.dispose();
      }
      this.onLog?.(history[history.length - 1] as RewardLogRecord);
      if (this.evalPairs.length > 0 && ((config.evalEvery > 0 && step % config.evalEvery === 0) || step === total)) {
        evaluations.push({ step, ...(await this.evaluate()) });
      }
      if (config.saveEvery > 0 && step % config.saveEvery === 0 && reducer.rank === 0) {
        lastCheckpoint = await saveRewardTrainerCheckpoint(config.outputDir as string, parameters, this.optimizer, { step, consumed, seed: config.seed });
      }
    }
    return { steps: step, history, evaluations, skippedIdenticalPairs: this.skippedIdenticalPairs, skippedTooLong: this.skippedTooLong, lastCheckpoint };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
