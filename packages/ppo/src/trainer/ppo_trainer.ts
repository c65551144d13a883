import * as tf from '@tensorflow/tfjs';
import {
  AdamW, CheckpointError, createRng, enableGradientCheckpointing, generate, IdentityReducer, loadTrainerCheckpoint, maskCounts, saveTrainerCheckpoint, shuffleIndices, trainStep,
  type CausalLM, type GradientReducer, type LossResult, type Rng, type RngState, type SaveTrainerCheckpointOptions, type Tokenizer,
} from '@rlhfjs/core';
import { computeGae } from '../advantages/gae';
import { maskedWhiten } from '../advantages/whiten';
import { AdaptiveKLController, FixedKLController, type KlController, type KlControllerState } from '../kl/kl_controller';
import type { LossCounts } from '../losses/masked_mean';
import { policyLoss } from '../losses/policy_loss';
import { valueLoss } from '../losses/value_loss';
import { computePerTokenRewards } from '../rewards/per_token_rewards';
import { sampleChunks } from './group_rollout';
import { createPolicyHeadCritic, criticParameters, criticValues, type Critic } from '../value/value_head';
import { diagnose, type DiagnosticSample } from './diagnostics';
import { prepareRlOutputDir, type RlOutputDirOptions } from './rl_output_dir';
import { resolvePpoConfig, type PpoConfig, type PpoOptions } from './ppo_config';
import type { RewardFn } from './reward_fn';
import { decodeCompletions, policyLogProbsAndValues, referenceLogProbs, responseLogProbs, responsePositions, type ReferencePolicy, type RolloutTensors } from './rollout';

export type { ReferencePolicy } from './rollout';

export interface PPOTrainerInputs {
  readonly policy: CausalLM;
  readonly reference: ReferencePolicy;
  readonly rewardFn: RewardFn;
  readonly tokenizer: Tokenizer;
  readonly prompts: readonly string[];
  readonly evalPrompts?: readonly string[];
  /** Default: a value head on the policy's hidden states. */
  readonly critic?: Critic;
  /** PPO-ptx pretraining texts (used when `ptxCoef` > 0). */
  readonly ptxTexts?: readonly string[];
  readonly reducer?: GradientReducer;
}

export type PpoMetrics = Record<string, number>;

const POLICY_PREFIX = 'policy.';
const CRITIC_PREFIX = 'critic.';

/** PPO for RLHF on the token-level MDP (Ziegler et al. 2019; TRL `PPOTrainer`). */
export class PPOTrainer {
  readonly config: PpoConfig;
  readonly critic: Critic;
  readonly history: PpoMetrics[] = [];
  private readonly inputs: PPOTrainerInputs;
  private readonly reducer: GradientReducer;
  private readonly optimizer = new AdamW({ weightDecay: 0 });
  private readonly klController: KlController;
  private readonly parameters: Map<string, tf.Variable>;
  /** Puts the trained models' own block functions back (gradientCheckpointing); a no-op without it. */
  private readonly undoCheckpointing: () => void;
  private rng: Rng;
  private iteration = 0;
  private previous: DiagnosticSample | null = null;

  constructor(inputs: PPOTrainerInputs, options: PpoOptions = {}) {
    this.config = resolvePpoConfig(options);
    this.inputs = inputs;
    this.reducer = inputs.reducer ?? new IdentityReducer();
    this.critic = inputs.critic ?? createPolicyHeadCritic(inputs.policy, this.config.seed);
    const { adaptiveKlTarget, klCoef, adaptiveKlHorizon } = this.config;
    this.klController = adaptiveKlTarget === null ? new FixedKLController(klCoef) : new AdaptiveKLController({ initKlCoef: klCoef, target: adaptiveKlTarget, horizon: adaptiveKlHorizon });
    this.parameters = new Map([
      ...[...inputs.policy.trainableParameters()].map(([name, variable]) => [POLICY_PREFIX + name, variable] as const),
      ...[...criticParameters(this.critic)].map(([name, variable]) => [CRITIC_PREFIX + name, variable] as const),
    ]);
    this.rng = createRng(this.config.seed);
    // the trained models only (the policy and a separate critic's backbone), never the reference
    const trained = this.critic.kind === 'separate' && this.critic.backbone !== inputs.policy ? [inputs.policy, this.critic.backbone] : [inputs.policy];
    const undos = this.config.gradientCheckpointing ? trained.map((model) => enableGradientCheckpointing(model)) : [];
    this.undoCheckpointing = () => undos.forEach((undo) => undo());
  }

  get completedIterations(): number {
    return this.iteration;
  }

  get klCoef(): number {
    return this.klController.value;
  }

  /** Runs the remaining iterations of `config.iterations`. */
  async train(): Promise<PpoMetrics[]> {
    while (this.iteration < this.config.iterations) await this.step();
    return this.history;
  }

  /** One PPO iteration: rollouts → rewards → GAE → `ppoEpochs` of minibatch updates → KL controller. */
  async step(): Promise<PpoMetrics> {
    const { config, inputs } = this;
    // One shuffled order shared by every rank (same seed, same stream); rank r takes its own slice of it, so the ranks'
    // prompts are disjoint (while the order has enough prompts) and 1 rank holds the first batchSize of them.
    const order = shuffleIndices(inputs.prompts.length, this.rng);
    const batchPrompts = Array.from({ length: config.batchSize }, (_, j) => inputs.prompts[order[(this.reducer.rank * config.batchSize + j) % order.length] as number] as string);
    const generationStart = performance.now();
    // Chunks of `generationChunkSize` prompts, each sampled with the seed of its global index (rank r's first chunk is
    // r · batchSize / chunk): the same prompts sample the same completions however the global batch is split.
    const chunk = config.generationChunkSize ?? config.batchSize;
    const output = sampleChunks(inputs.policy, inputs.tokenizer, batchPrompts, {
      chunkSize: chunk, maxNewTokens: config.maxNewTokens, temperature: config.temperature, firstChunk: (this.reducer.rank * config.batchSize) / chunk,
      seedOf: (index) => config.seed * 1000003 + this.iteration * 7919 + index,
    });
    const generationSeconds = (performance.now() - generationStart) / 1000;
    const scoringStart = performance.now();
    const scores = await inputs.rewardFn(batchPrompts, output.completions);
    const scoringSeconds = (performance.now() - scoringStart) / 1000;

    const trainingStart = performance.now();
    const rollout: RolloutTensors = {
      sequences: tf.tensor2d(output.sequences, undefined, 'int32'),
      attentionMask: tf.tensor2d(output.attentionMask),
      responseMask: tf.tensor2d(output.completionMask),
      promptLength: output.promptLength,
      responseLength: output.responseLength,
    };
    const owned: tf.Tensor[] = [rollout.sequences, rollout.attentionMask, rollout.responseMask];
    const metrics: PpoMetrics = {};
    try {
      const refLogprobs = referenceLogProbs(inputs.reference, inputs.policy, rollout, config.temperature);
      const { logprobs: oldLogprobs, values: oldValues } = policyLogProbsAndValues(inputs.policy, this.critic, rollout, config.temperature);
      const scoreTensor = tf.tensor1d(scores);
      owned.push(refLogprobs, oldLogprobs, oldValues, scoreTensor);
      const perToken = computePerTokenRewards(
        { scores: scoreTensor, logprobs: oldLogprobs, refLogprobs, responseMask: rollout.responseMask },
        { klCoef: this.klController.value, estimator: config.klEstimator, ...(config.scoreClip === null ? {} : { scoreClip: config.scoreClip }), ...(config.missingEosPenalty === null ? {} : { missingEosPenalty: config.missingEosPenalty, hasEos: output.finished }) },
      );
      owned.push(perToken.rewards, perToken.kl);
      const gae = computeGae({ rewards: perToken.rewards, values: oldValues, mask: rollout.responseMask, gamma: config.gamma, lambda: config.lambda });
      owned.push(gae.advantages, gae.returns);
      const advantages = await maskedWhiten(gae.advantages, rollout.responseMask, { reducer: this.reducer });
      owned.push(advantages);

      const rowSums = tf.tidy(() => tf.stack([tf.sum(perToken.kl, 1), tf.sum(tf.mul(tf.neg(oldLogprobs), rollout.responseMask), 1)])); // [2, B]
      const [klPerRow, negLogprobPerRow] = (await rowSums.array()) as [number[], number[]];
      rowSums.dispose();
      const total = (list: ArrayLike<number>, f = (x: number) => x): number => Array.from(list).reduce((a, b) => a + f(b), 0);
      const [klSum, entropySum, scoreSum, scoreSquares, rows] = (await this.reducer.allReduceSum([total(klPerRow), total(negLogprobPerRow), total(scores), total(scores, (x) => x * x), scores.length])) as [number, number, number, number, number];
      const meanKl = klSum / rows;
      const scoreMean = scoreSum / rows;
      const scoreStd = Math.sqrt(Math.max(scoreSquares / rows - scoreMean * scoreMean, 0));

      const sums: Record<string, number> = {};
      let updates = 0;
      for (let epoch = 0; epoch < config.ppoEpochs; epoch += 1) {
        const order = shuffleIndices(config.batchSize, this.rng);
        let epochApproxKl = 0;
        let epochUpdates = 0;
        for (let start = 0; start < config.batchSize; start += config.miniBatchSize) {
          const indices = tf.tensor1d(order.slice(start, start + config.miniBatchSize), 'int32');
          const take = <T extends tf.Tensor>(tensor: T): T => tf.gather(tensor, indices) as T;
          const mini = tf.tidy(() => ({ sequences: take(rollout.sequences), attentionMask: take(rollout.attentionMask), responseMask: take(rollout.responseMask), oldLogprobs: take(oldLogprobs), oldValues: take(oldValues), advantages: take(advantages), returns: take(gae.returns) }));
          indices.dispose();
          try {
            const local = maskCounts(mini.responseMask);
            const [globalTokenCount] = (await this.reducer.allReduceSum([local.tokens])) as [number];
            const result = await trainStep({
              lossFns: [() => this.miniBatchLoss({ ...rollout, ...mini }, mini, { globalTokenCount, worldSize: this.reducer.worldSize })],
              parameters: this.parameters, optimizer: this.optimizer, learningRate: config.learningRate, reducer: this.reducer, maxGradNorm: config.maxGradNorm, step: this.iteration,
            });
            for (const [name, value] of Object.entries(result.metrics)) sums[name] = (sums[name] ?? 0) + value;
            epochApproxKl += result.metrics['policy/approxkl_avg'] ?? 0;
            epochUpdates += 1;
            updates += 1;
          } finally {
            tf.dispose(Object.values(mini));
          }
        }
        // The stop decision steers control flow, so it is taken on the mean over ALL ranks: every rank leaves the
        // epoch loop at the same epoch and the next collectives pair up.
        const [klSumAllRanks, updatesAllRanks] = (await this.reducer.allReduceSum([epochApproxKl, epochUpdates])) as [number, number];
        const globalApproxKl = klSumAllRanks / updatesAllRanks;
        Object.assign(metrics, { 'policy/local_approxkl_last_epoch': epochApproxKl / epochUpdates, 'policy/approxkl_last_epoch': globalApproxKl });
        if (config.targetKl !== null && globalApproxKl > 1.5 * config.targetKl) {
          metrics['policy/early_stop_epoch'] = epoch;
          break;
        }
      }
      this.klController.update(meanKl, rows);
      Object.assign(metrics, Object.fromEntries(Object.entries(sums).map(([name, sum]) => [name, sum / updates])));
      Object.assign(metrics, {
        'objective/kl': meanKl, 'objective/entropy': entropySum / rows, 'objective/non_score_reward': perToken.nonScoreReward,
        'objective/scores': scoreMean, 'objective/rlhf_reward': scoreMean + perToken.nonScoreReward, 'objective/kl_coef': this.klController.value,
        'val/num_eos_tokens': output.finished.filter(Boolean).length, 'time/generation': generationSeconds, 'time/scoring': scoringSeconds,
        'time/training': (performance.now() - trainingStart) / 1000, iteration: this.iteration + 1,
      });
      const sample = { iteration: this.iteration + 1, kl: meanKl, scoreMean, scoreStd };
      diagnose(this.previous, sample, config.klWarnThreshold, config.scoreStdWarnThreshold);
      this.previous = sample;
    } finally {
      tf.dispose(owned);
    }
    this.iteration += 1;
    this.history.push(metrics);
    return metrics;
  }

  /** Policy loss + vfCoef · value loss (+ ptxCoef · SFT loss) of one minibatch, inside trainStep's gradient tape. */
  private miniBatchLoss(rollout: RolloutTensors, data: { oldLogprobs: tf.Tensor2D; oldValues: tf.Tensor2D; advantages: tf.Tensor2D; returns: tf.Tensor2D }, counts: LossCounts): LossResult {
    const { config, inputs } = this;
    const { logits, hiddenStates } = inputs.policy.forward({ inputIds: rollout.sequences, attentionMask: rollout.attentionMask, logits: 'all' });
    const logprobs = responseLogProbs(logits as tf.Tensor3D, rollout, config.temperature); // [b, N]
    const responseLogits = tf.div(responsePositions(logits as tf.Tensor3D, rollout), config.temperature) as tf.Tensor3D; // [b, N, V]
    const values = responsePositions(criticValues(this.critic, rollout.sequences, rollout.attentionMask, hiddenStates), rollout); // [b, N]
    const policy = policyLoss({ logprobs, oldLogprobs: data.oldLogprobs, advantages: data.advantages, mask: rollout.responseMask, logits: responseLogits }, { clipRange: config.clipRange, counts });
    const value = valueLoss({ values, oldValues: data.oldValues, returns: data.returns, mask: rollout.responseMask }, { clipRangeValue: config.clipRangeValue, counts });
    let loss = tf.add(policy.loss, tf.mul(value.loss, config.vfCoef)) as tf.Scalar;
    const metrics: Record<string, number> = {
      'policy/approxkl_avg': policy.metrics.approxKl, 'policy/clipfrac_avg': policy.metrics.clipFrac, 'policy/entropy_avg': policy.metrics.entropy ?? 0,
      'loss/policy_avg': policy.loss.dataSync()[0] as number, 'loss/value_avg': value.loss.dataSync()[0] as number, 'val/clipfrac_avg': value.metrics.clipFrac, 'val/ratio': policy.metrics.ratioMean,
    };
    if (config.ptxCoef > 0 && (inputs.ptxTexts?.length ?? 0) > 0) {
      const ptx = this.ptxLoss();
      metrics['loss/ptx_avg'] = ptx.dataSync()[0] as number;
      loss = tf.add(loss, tf.mul(ptx, config.ptxCoef)) as tf.Scalar;
    }
    return { loss, metrics };
  }

  /** Mean next-token negative log-likelihood on `miniBatchSize` pretraining texts drawn by the trainer's RNG. */
  private ptxLoss(): tf.Scalar {
    const texts = this.inputs.ptxTexts as readonly string[];
    const chosen = Array.from({ length: this.config.miniBatchSize }, () => texts[this.rng.nextInt(texts.length)] as string);
    const batch = this.inputs.tokenizer.encodeBatch(chosen, { paddingSide: 'right' });
    const inputIds = tf.tensor2d(batch.inputIds, undefined, 'int32');
    const mask = tf.tensor2d(batch.attentionMask);
    const { logits } = this.inputs.policy.forward({ inputIds, attentionMask: mask, logits: 'all' });
    const [rows, length] = inputIds.shape;
    const tokenLogprobs = responseLogProbs(logits as tf.Tensor3D, { sequences: inputIds, attentionMask: mask, responseMask: mask, promptLength: 1, responseLength: length - 1 }, 1); // [b, T − 1]
    const targetMask = tf.slice(mask, [0, 1], [rows, length - 1]); // [b, T − 1]
    return tf.neg(tf.div(tf.sum(tf.mul(tokenLogprobs, targetMask)), tf.maximum(tf.sum(targetMask), 1))) as tf.Scalar;
  }

  /** Mean score of completions of `prompts` (default: the eval prompts); greedy unless `sampling.doSample`. */
  async evaluate(prompts: readonly string[] = this.inputs.evalPrompts ?? this.inputs.prompts, sampling: { doSample?: boolean; seed?: number } = {}): Promise<number> {
    const { tokenizer } = this.inputs;
    const eos = tokenizer.eosTokenId;
    const output = generate(this.inputs.policy, tokenizer.encodeBatch(prompts, { paddingSide: 'left' }), {
      maxNewTokens: this.config.maxNewTokens, doSample: sampling.doSample ?? false, seed: sampling.seed ?? 0, temperature: this.config.temperature, padTokenId: tokenizer.padTokenId, ...(eos === null ? {} : { stopTokenIds: [eos] }),
    });
    const completions = decodeCompletions(tokenizer, output.completionIds, output.completionMask);
    const scores = await this.inputs.rewardFn([...prompts], completions);
    return scores.reduce((a, b) => a + b, 0) / scores.length;
  }

  /**
   * Writes `outputDir/checkpoint-<iteration>/` through core's `saveTrainerCheckpoint` (atomic; keeps the newest
   * `keep`): policy and critic parameters (`policy.*`, `critic.*`), optimizer state, and in `trainer_state.json` the
   * RNG, KL controller, diagnostics state and metrics history; with `options.saveModel` (e.g. one writing the policy
   * and tokenizer) the folder is also a loadable model. Returns the directory.
   */
  async saveCheckpoint(outputDir: string, keep = 2, options: SaveTrainerCheckpointOptions = {}): Promise<string> {
    const extra: PpoCheckpointState = { rng: this.rng.getState(), klController: this.klController.state(), previous: this.previous, history: this.history };
    return saveTrainerCheckpoint(outputDir, this.parameters, this.optimizer, { step: this.iteration, consumed: this.iteration * this.config.batchSize * this.reducer.worldSize, seed: this.config.seed, extra }, keep, options);
  }

  /**
   * Readies `outputDir` for this run before the first step, with core's output-directory guard (see
   * `prepareRlOutputDir`): another run there is refused unless `overwrite`; `resumeFrom` ('latest' or a checkpoint
   * folder) is validated and restored. Resolves to the checkpoint resumed, or null. `ppo_metrics.jsonl` is the
   * run's metrics log there (the CLI writes it).
   */
  prepareOutputDir(outputDir: string, options: RlOutputDirOptions = {}): Promise<string | null> {
    return prepareRlOutputDir(this, 'PPOTrainer', 'ppo', outputDir, this.reducer.rank === 0, options);
  }

  /** Restores a `saveCheckpoint` directory; the next `step()` continues exactly where the saved run was. */
  async resumeFrom(directory: string): Promise<void> {
    const state = await loadTrainerCheckpoint(directory, this.parameters, this.optimizer);
    const extra = state.extra as PpoCheckpointState | undefined;
    if (extra === undefined || extra.rng === undefined || extra.klController === undefined) throw new CheckpointError(`PPOTrainer.resumeFrom: ${directory}/trainer_state.json holds no PPO state (rng, klController)`);
    this.klController.load(extra.klController);
    this.rng = createRng(extra.rng);
    this.iteration = state.step;
    this.previous = extra.previous;
    this.history.splice(0, this.history.length, ...extra.history);
  }

  /** Frees the optimizer state and the value head, and undoes gradientCheckpointing; the models stay the caller's. */
  dispose(): void {
    this.optimizer.dispose();
    this.critic.head.dispose();
    this.undoCheckpointing();
  }
}

interface PpoCheckpointState {
  rng: RngState;
  klController: KlControllerState;
  previous: DiagnosticSample | null;
  history: PpoMetrics[];
}
