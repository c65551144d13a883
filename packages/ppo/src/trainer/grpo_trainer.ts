import * as tf from '@tensorflow/tfjs';
import {
  AdamW, ConfigError, createRng, enableGradientCheckpointing, generate, IdentityReducer, loadTrainerCheckpoint, saveTrainerCheckpoint, shuffleIndices, trainStep,
  type CausalLM, type GradientReducer, type LossResult, type Rng, type RngState, type SaveTrainerCheckpointOptions, type Tokenizer,
} from '@rlhfjs/core';
import { groupAdvantages } from '../advantages/group_advantages';
import { reinforcePlusPlusAdvantages } from '../advantages/reinforce_plus_plus';
import { rlooAdvantages } from '../advantages/rloo';
import { klPerToken } from '../kl/kl_estimators';
import { entropyFromLogits } from '../losses/entropy';
import { grpoLoss } from '../losses/grpo_loss';
import { combineRewards, scoreRewardFunctions, type NamedRewardFunction } from '../rewards/reward_functions';
import { prepareRlOutputDir, type RlOutputDirOptions } from './rl_output_dir';
import { resolveGrpoConfig, type GrpoConfig, type GrpoOptions } from './grpo_config';
import { rolloutTensors, sampleGroups, type GroupRollout } from './group_rollout';
import { decodeCompletions, referenceLogProbs, responseLogProbs, responsePositions, scoreLogProbs, type ReferencePolicy, type RolloutTensors } from './rollout';

export interface GRPOTrainerInputs {
  readonly policy: CausalLM;
  /** Needed only when beta > 0. */
  readonly reference?: ReferencePolicy;
  /** Summed with their weights (NaN scores skipped, as TRL's nansum). */
  readonly rewardFunctions: readonly NamedRewardFunction[];
  readonly tokenizer: Tokenizer;
  readonly prompts: readonly string[];
  readonly evalPrompts?: readonly string[];
  readonly reducer?: GradientReducer;
}

export type GrpoMetrics = Record<string, number>;

interface GrpoExtraState {
  rng: RngState;
  history: GrpoMetrics[];
}

/**
 * Critic-free online RL (GRPO and its loss variants, RLOO, REINFORCE++) in one loop: sample G completions per
 * prompt → score with the reward functions → advantages from the chosen estimator over the rewards of ALL ranks
 * → μ passes of clipped updates (TRL 1.x `GRPOTrainer` semantics; metric names as TRL logs them).
 */
export class GRPOTrainer {
  readonly config: GrpoConfig;
  readonly history: GrpoMetrics[] = [];
  private readonly inputs: GRPOTrainerInputs;
  private readonly reducer: GradientReducer;
  private readonly optimizer = new AdamW({ weightDecay: 0 });
  private readonly parameters: Map<string, tf.Variable>;
  private readonly weights: number[];
  /** Puts the policy's own block function back (gradientCheckpointing); a no-op without it. */
  private readonly undoCheckpointing: () => void;
  private rng: Rng;
  private iteration = 0;

  constructor(inputs: GRPOTrainerInputs, options: GrpoOptions = {}) {
    this.config = resolveGrpoConfig(options);
    const problems: string[] = [];
    if (inputs.rewardFunctions.length === 0) problems.push('rewardFunctions must hold at least one function');
    if (this.config.rewardWeights !== null && this.config.rewardWeights.length !== inputs.rewardFunctions.length) problems.push(`rewardWeights has ${this.config.rewardWeights.length} entries for ${inputs.rewardFunctions.length} reward functions`);
    if (this.config.beta > 0 && inputs.reference === undefined) problems.push(`beta ${this.config.beta} > 0 needs a reference policy (inputs.reference)`);
    if (inputs.prompts.length === 0) problems.push('prompts must not be empty');
    if (problems.length > 0) throw new ConfigError('GRPOTrainer', problems);
    this.inputs = inputs;
    this.reducer = inputs.reducer ?? new IdentityReducer();
    this.weights = this.config.rewardWeights === null ? inputs.rewardFunctions.map((entry) => entry.weight ?? 1) : [...this.config.rewardWeights];
    this.parameters = new Map(inputs.policy.trainableParameters());
    this.rng = createRng(this.config.seed);
    // the policy only: a frozen reference never runs under a gradient tape (one sharing the policy, adapters off, runs
    // through the wrapper without a tape, which saves nothing)
    this.undoCheckpointing = this.config.gradientCheckpointing ? enableGradientCheckpointing(inputs.policy) : () => undefined;
  }

  get completedIterations(): number {
    return this.iteration;
  }

  async train(): Promise<GrpoMetrics[]> {
    while (this.iteration < this.config.iterations) await this.step();
    return this.history;
  }

  /** One iteration: this rank's prompt shard × G completions → rewards of all ranks → advantages → μ × updates. */
  async step(): Promise<GrpoMetrics> {
    const { config, inputs, reducer } = this;
    const { batchSize, numGenerations } = config;
    const order = shuffleIndices(inputs.prompts.length, this.rng); // the same stream on every rank: the shards are disjoint
    const shard = Array.from({ length: batchSize }, (_, j) => inputs.prompts[order[(reducer.rank * batchSize + j) % order.length] as number] as string);
    const generationStart = performance.now();
    const rollout = sampleGroups(inputs.policy, inputs.tokenizer, shard, {
      numGenerations, maxNewTokens: config.maxCompletionLength, temperature: config.temperature, firstGroup: reducer.rank * batchSize,
      seedOf: (group) => (config.seed * 1000003 + this.iteration * 7919 + group * 104729) % 2147483647,
    });
    const generationSeconds = (performance.now() - generationStart) / 1000;
    const rows = batchSize * numGenerations;
    const perFunction = await this.gather(await scoreRewardFunctions(inputs.rewardFunctions, rollout.prompts, rollout.completions)); // [F][N·B·G]
    const rewards = combineRewards(perFunction, this.weights); // [N·B·G], identical on every rank
    const offset = reducer.rank * rows;
    const lossMask = rollout.completionMask.map((row, r) => (config.maskTruncatedCompletions && !rollout.finished[r] ? row.map(() => 0) : row));
    const all = rolloutTensors(rollout, 0, rows, rollout.completionMask);
    const owned: tf.Tensor[] = [all.sequences, all.attentionMask, all.responseMask];
    const metrics: GrpoMetrics = {};
    try {
      const needsKlInReward = config.estimator !== 'grpo' && config.beta > 0;
      const needsOld = config.numIterations > 1 || config.stepsPerGeneration > 1 || needsKlInReward;
      const oldLogps = needsOld ? scoreLogProbs(inputs.policy, all, config.temperature) : null; // [B·G, N]
      const refLogps = config.beta > 0 ? referenceLogProbs(inputs.reference as ReferencePolicy, inputs.policy, all, config.temperature) : null; // [B·G, N]
      owned.push(...[oldLogps, refLogps].filter((tensor): tensor is tf.Tensor2D => tensor !== null));
      const advantages = await this.advantages(rewards, offset, all, oldLogps, refLogps, metrics); // [B·G] or [B·G, N]
      owned.push(advantages);
      const sums: Record<string, number> = {};
      let updates = 0;
      const chunk = rows / config.stepsPerGeneration;
      for (let pass = 0; pass < config.numIterations; pass += 1) {
        for (let start = 0; start < rows; start += chunk) {
          const piece = rolloutTensors(rollout, start, start + chunk, lossMask);
          const slice = <T extends tf.Tensor>(tensor: T | null): T | null => (tensor === null ? null : (tf.slice(tensor, start, chunk) as T)); // rows [start, start + chunk)
          const data = { old: slice(oldLogps), ref: slice(refLogps), advantages: slice(advantages) as tf.Tensor };
          try {
            const [numItems] = (await reducer.allReduceSum([lossMask.slice(start, start + chunk).flat().reduce((a, b) => a + b, 0)])) as [number];
            const result = await trainStep({
              lossFns: [() => this.chunkLoss(piece, data, numItems)], parameters: this.parameters, optimizer: this.optimizer,
              learningRate: config.learningRate, reducer, maxGradNorm: config.maxGradNorm, step: this.iteration,
            });
            for (const [name, value] of Object.entries({ ...result.metrics, loss: result.loss, grad_norm: result.gradNorm })) if (typeof value === 'number') sums[name] = (sums[name] ?? 0) + value;
            updates += 1;
          } finally {
            tf.dispose([piece.sequences, piece.attentionMask, piece.responseMask, ...Object.values(data).filter((tensor): tensor is tf.Tensor => tensor !== null)]);
          }
        }
      }
      const names = Object.keys(sums).sort();
      const averaged = await reducer.allReduceSum(names.map((name) => (sums[name] as number) / updates)); // TRL gathers and averages over ranks
      names.forEach((name, index) => { metrics[name] = (averaged[index] as number) / reducer.worldSize; });
      const truncated = rollout.finished.filter((finished) => !finished).length;
      const [lengthSum, truncatedSum, count] = (await reducer.allReduceSum([rollout.lengths.reduce((a, b) => a + b, 0), truncated, rows])) as [number, number, number];
      Object.assign(metrics, {
        'completions/mean_length': lengthSum / count, 'completions/clipped_ratio': truncatedSum / count,
        ...Object.fromEntries(inputs.rewardFunctions.map((entry, f) => [`rewards/${entry.name}/mean`, mean(perFunction[f] as Float64Array)])),
        'time/generation': generationSeconds, iteration: this.iteration + 1,
      });
    } finally {
      tf.dispose(owned);
    }
    this.iteration += 1;
    this.history.push(metrics);
    return metrics;
  }

  /** The estimator's advantages of this rank's rows, from the rewards of all ranks. */
  private async advantages(rewards: Float64Array, offset: number, all: RolloutTensors, oldLogps: tf.Tensor2D | null, refLogps: tf.Tensor2D | null, metrics: GrpoMetrics): Promise<tf.Tensor> {
    const { config } = this;
    const rows = config.batchSize * config.numGenerations;
    const grouped = groupAdvantages(rewards, { numGenerations: config.numGenerations, scaleRewards: config.scaleRewards });
    Object.assign(metrics, grouped.metrics);
    switch (config.estimator) {
      case 'grpo':
        return tf.tensor1d(grouped.advantages.slice(offset, offset + rows)); // [B·G]
      case 'rloo': {
        const penalised = Float64Array.from(rewards);
        if (oldLogps !== null && refLogps !== null) {
          const klTensor = tf.tidy(() => tf.sum(tf.mul(klPerToken(oldLogps, refLogps, config.klEstimator), all.responseMask), 1)); // [B·G]
          const local = klTensor.dataSync();
          klTensor.dispose();
          const global = (await this.gather([Float64Array.from(local)]))[0] as Float64Array;
          global.forEach((kl, index) => { penalised[index] = (penalised[index] as number) - config.beta * kl; });
          metrics.kl = mean(global);
        }
        return tf.tensor1d(rlooAdvantages(penalised, { numGenerations: config.numGenerations, normalize: config.rlooNormalize }).slice(offset, offset + rows)); // [B·G]
      }
      case 'reinforce++': {
        const scores = tf.tensor1d(Float32Array.from(rewards.slice(offset, offset + rows))); // [B·G]
        try {
          const logprobs = oldLogps ?? scoreLogProbs(this.inputs.policy, all, config.temperature);
          const result = await reinforcePlusPlusAdvantages({ scores, logprobs, refLogprobs: refLogps ?? logprobs, responseMask: all.responseMask }, { klCoef: config.beta, gamma: config.gamma, estimator: config.klEstimator, reducer: this.reducer });
          if (oldLogps === null) logprobs.dispose();
          const klSums = tf.tidy(() => tf.stack([tf.sum(result.kl), tf.sum(all.responseMask)])); // [2]: KL is already masked
          const [klSum, tokens] = (await this.reducer.allReduceSum(Array.from(klSums.dataSync()))) as [number, number];
          tf.dispose([klSums, result.returns, result.kl]);
          if (config.beta > 0) metrics.kl = klSum / Math.max(tokens, 1); // token mean of the per-token KL of all ranks
          return result.advantages; // [B·G, N]
        } finally {
          scores.dispose();
        }
      }
      default: {
        const unreachable: never = config.estimator;
        throw new ConfigError('GRPOTrainer', [`unknown estimator ${String(unreachable)}`]);
      }
    }
  }

  /** The loss of rows of the generation batch, inside trainStep's gradient tape. */
  private chunkLoss(piece: RolloutTensors, data: { old: tf.Tensor2D | null; ref: tf.Tensor2D | null; advantages: tf.Tensor }, numItemsInBatch: number): LossResult {
    const { config } = this;
    const { logits } = this.inputs.policy.forward({ inputIds: piece.sequences, attentionMask: piece.attentionMask, logits: 'all' });
    const logps = responseLogProbs(logits as tf.Tensor3D, piece, config.temperature); // [b, N]
    const old = data.old ?? tf.tensor2d(logps.dataSync() as Float32Array, logps.shape); // π_old = π detached (μ = 1, one step per generation)
    const lossBeta = config.estimator === 'grpo' ? config.beta : 0; // rloo / reinforce++ carry the KL in the reward
    const result = grpoLoss(
      { perTokenLogps: logps, oldPerTokenLogps: old, ...(lossBeta > 0 && data.ref !== null ? { refPerTokenLogps: data.ref } : {}), advantages: data.advantages as tf.Tensor1D, mask: piece.responseMask },
      { lossType: config.lossType, importanceSamplingLevel: config.importanceSamplingLevel, beta: lossBeta, epsilonLow: config.epsilonLow, epsilonHigh: config.epsilonHigh, ...(config.delta === null ? {} : { delta: config.delta }), maxCompletionLength: config.maxCompletionLength, numItemsInBatch, worldSize: this.reducer.worldSize },
    );
    const responseLogits = tf.div(responsePositions(logits as tf.Tensor3D, piece), config.temperature) as tf.Tensor3D; // [b, N, V]
    const entropy = tf.div(tf.sum(entropyFromLogits(responseLogits, piece.responseMask)), tf.maximum(tf.sum(piece.responseMask), 1));
    return { loss: result.loss, metrics: { ...result.metrics, entropy: entropy.dataSync()[0] as number } };
  }

  /** Each rank's rows placed at its offset, summed over ranks: every rank gets all rows. [F][local] → [F][N·local] */
  private async gather(local: readonly Float64Array[]): Promise<Float64Array[]> {
    const size = local[0]?.length ?? 0;
    const { rank, worldSize } = this.reducer;
    if (worldSize === 1) return local.map((row) => Float64Array.from(row));
    const flat = new Array<number>(local.length * worldSize * size).fill(0);
    local.forEach((row, f) => row.forEach((value, index) => { flat[(f * worldSize + rank) * size + index] = Number.isNaN(value) ? 0 : value; }));
    const isNan = local.map((row) => Array.from(row, (value) => (Number.isNaN(value) ? 1 : 0)));
    const nanFlat = new Array<number>(flat.length).fill(0);
    isNan.forEach((row, f) => row.forEach((value, index) => { nanFlat[(f * worldSize + rank) * size + index] = value; }));
    const summed = await this.reducer.allReduceSum([...flat, ...nanFlat]);
    return local.map((_, f) => Float64Array.from({ length: worldSize * size }, (_unused, index) => ((summed[flat.length + f * worldSize * size + index] as number) > 0 ? Number.NaN : (summed[f * worldSize * size + index] as number))));
  }

  /** Mean combined reward of completions of `prompts` (default: the eval prompts); greedy unless `sampling.doSample`. */
  async evaluate(prompts: readonly string[] = this.inputs.evalPrompts ?? this.inputs.prompts, sampling: { doSample?: boolean; seed?: number } = {}): Promise<number> {
    const { tokenizer } = this.inputs;
    const eos = tokenizer.eosTokenId;
    const output = generate(this.inputs.policy, tokenizer.encodeBatch(prompts, { paddingSide: 'left' }), {
      maxNewTokens: this.config.maxCompletionLength, doSample: sampling.doSample ?? false, seed: sampling.seed ?? 0, temperature: this.config.temperature, padTokenId: tokenizer.padTokenId, ...(eos === null ? {} : { stopTokenIds: [eos] }),
    });
    const scores = combineRewards(await scoreRewardFunctions(this.inputs.rewardFunctions, [...prompts], decodeCompletions(tokenizer, output.completionIds, output.completionMask)), this.weights);
    return mean(scores);
  }

  /**
   * Writes `outputDir/checkpoint-<iteration>/` through core's trainer checkpoint (parameters, optimizer, RNG, history);
   * with `options.saveModel` (e.g. one writing the policy and tokenizer) the folder is also a loadable model.
   */
  async saveCheckpoint(outputDir: string, keep = 2, options: SaveTrainerCheckpointOptions = {}): Promise<string> {
    const extra: GrpoExtraState = { rng: this.rng.getState(), history: this.history };
    return saveTrainerCheckpoint(outputDir, this.parameters, this.optimizer, { step: this.iteration, consumed: this.iteration * this.config.batchSize * this.reducer.worldSize, seed: this.config.seed, extra }, keep, options);
  }

  /**
   * Readies `outputDir` for this run before the first step, with core's output-directory guard (see
   * `prepareRlOutputDir`): another run there is refused unless `overwrite`; `resumeFrom` ('latest' or a checkpoint
   * folder) is validated and restored. Resolves to the checkpoint resumed, or null. `grpo_metrics.jsonl` is the
   * run's metrics log there (the CLI writes it).
   */
  prepareOutputDir(outputDir: string, options: RlOutputDirOptions = {}): Promise<string | null> {
    return prepareRlOutputDir(this, 'GRPOTrainer', 'grpo', outputDir, this.reducer.rank === 0, options);
  }

  /** Restores a `saveCheckpoint` directory; the next `step()` continues exactly where the saved run was. */
  async resumeFrom(directory: string): Promise<void> {
    const state = await loadTrainerCheckpoint(directory, this.parameters, this.optimizer);
    const extra = state.extra as GrpoExtraState;
    this.rng = createRng(extra.rng);
    this.iteration = state.step;
    this.history.splice(0, this.history.length, ...extra.history);
  }

  /** Frees the optimizer state and undoes gradientCheckpointing; the models stay the caller's. */
  dispose(): void {
    this.optimizer.dispose();
    this.undoCheckpointing();
  }
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let index = 0; index < values.length; index += 1) {
    if (Number.isNaN(values[index])) continue;
    sum += values[index] as number;
    count += 1;
  }
  return count === 0 ? Number.NaN : sum / count;
}

