import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as path from 'path';
import {
  CheckpointError,
  ConfigError,
  enableGradientCheckpointing,
  Trainer,
  resolveTrainerConfig,
  saveCausalLM,
  writeFileAtomic,
  tokenizePreferenceExample,
  type CausalLM,
  type GradientReducer,
  type LossResult,
  type PreferenceRecord,
  type StepCounts,
  type Tokenizer,
  type TrainResult,
  type TrainerOptions,
} from '@rlhfjs/core';
import { dpoLoss } from '../loss/dpo_loss';
import {
  LENGTH_NORMALISED_DPO_LOSS_TYPES,
  REFERENCE_FREE_DPO_LOSS_TYPES,
  resolveDpoLossConfig,
  type DpoLossConfig,
  type DpoLossOptions,
} from '../loss/dpo_loss_config';
import { referenceLogps, type ReferenceLogps, type ReferencePolicy } from '../reference/reference_policy';
import { collatePreferenceBatch, concatenatedForward, type ConcatenatedPreferenceBatch, type DpoExample } from './preference_batch';

export interface DPOTrainerOptions extends TrainerOptions, DpoLossOptions {
  /** Longest prompt + completion in tokens (default 1024, TRL's `max_length`). */
  maxLength?: number;
  /** Longest prompt; its last tokens are kept (default 512, TRL's `max_prompt_length`). */
  maxPromptLength?: number;
  /** Score the whole dataset under the reference once before training (TRL `precompute_ref_log_probs`). Default false. */
  precomputeReferenceLogProbs?: boolean;
  /** Pairs per forward pass for evaluation and precomputation (default: batchSize). */
  evalBatchSize?: number;
  /**
   * Recompute each of the policy's transformer blocks in the backward pass instead of holding its activations
   * (never the reference's). Same gradients, less memory, one more forward per step. Default false.
   */
  gradientCheckpointing?: boolean;
}

export interface DPOInputs {
  model: CausalLM;
  tokenizer: Tokenizer;
  trainDataset: readonly PreferenceRecord[];
  evalDataset?: readonly PreferenceRecord[];
  /**
   * Required: `{kind: 'frozen', model}`, `{kind: 'adapters-disabled', withAdaptersDisabled: (fn) =>
   * withAdaptersDisabled(model, fn)}` with LoRA (from `@rlhfjs/lora`), or `{kind: 'none'}` for simpo/orpo.
   */
  reference?: ReferencePolicy;
  /**
   * How `save()` writes the policy: default the whole model in HF format (`saveCausalLM`); with LoRA pass
   * `(directory) => saveAdapter(model, directory)` from `@rlhfjs/lora` to write only the PEFT adapter.
   */
  saveModel?: (directory: string) => Promise<void>;
  reducer?: GradientReducer;
}

/** The metrics DPO logs per step and per evaluation, named as TRL logs them. */
export type DpoMetrics = Record<
  'loss' | 'rewards/chosen' | 'rewards/rejected' | 'rewards/accuracies' | 'rewards/margins' | 'logps/chosen' | 'logps/rejected' | 'logits/chosen' | 'logits/rejected',
  number
>;

/** Reference log-probs of a whole split, index-aligned with it. */
interface ReferenceTable {
  chosen: Float32Array;
  rejected: Float32Array;
}

export const REFERENCE_LOGPS_CACHE_FILE = 'reference_logps.json';

/**
 * Direct Preference Optimization on the shared Trainer loop. Chosen and rejected completions are scored in one
 * concatenated forward pass; the loss of a micro-batch is Σ per-pair losses / (pairs in the step) × worldSize,
 * so gradient accumulation and data parallelism equal one big batch. Reference log-probs come from a frozen
 * copy, from the policy with its LoRA adapters disabled, or (TRL's `precompute_ref_log_probs`) from one pass
 * over the dataset before training.
 */
export class DPOTrainer {
  readonly trainer: Trainer<DpoExample>;
  readonly lossConfig: DpoLossConfig;
  private readonly inputs: DPOInputs;
  private readonly reference: ReferencePolicy;
  private readonly trainExamples: DpoExample[];
  private readonly evalExamples: DpoExample[];
  private readonly usesReference: boolean;
  private readonly needsLengths: boolean;
  private readonly precompute: boolean;
  private readonly evalBatchSize: number;
  private readonly outputDir: string | null;
  /** Puts the policy's own block function back (gradientCheckpointing); a no-op without it. */
  private readonly undoCheckpointing: () => void;
  private precomputed: { train: ReferenceTable; eval: ReferenceTable } | null = null;
  /** Reference log-probs of the micro-batches of the current step, scored in `countUnits` (outside the gradient tape). */
  private readonly pending = new Map<readonly DpoExample[], ReferenceLogps | null>();

  constructor(inputs: DPOInputs, options: DPOTrainerOptions = {}) {
    const {
      maxLength = 1024,
      maxPromptLength = 512,
      precomputeReferenceLogProbs = false,
      evalBatchSize,
      gradientCheckpointing = false,
      lossType,
      beta,
      labelSmoothing,
      referenceFree,
      simpoGamma,
      gamma,
      rpoAlpha,
      orpoLambda,
      discopopTau,
      ...trainerOptions
    } = options;
    const lossOptions: DpoLossOptions = { lossType, beta, labelSmoothing, referenceFree, simpoGamma, gamma, rpoAlpha, orpoLambda, discopopTau };
    this.lossConfig = resolveDpoLossConfig(Object.fromEntries(Object.entries(lossOptions).filter(([, value]) => value !== undefined)) as DpoLossOptions);
    const trainerConfig = resolveTrainerConfig(trainerOptions, 'DPOTrainer');
    const reference: ReferencePolicy | undefined = inputs.reference;
    const types = this.lossConfig.terms.map((term) => term.type);
    this.usesReference = !this.lossConfig.referenceFree && types.some((type) => !REFERENCE_FREE_DPO_LOSS_TYPES.includes(type));
    this.needsLengths = types.some((type) => LENGTH_NORMALISED_DPO_LOSS_TYPES.includes(type));
    const problems: string[] = [];
    if (inputs.trainDataset.length === 0) problems.push('trainDataset is empty');
    if (reference === undefined) problems.push("reference is required: {kind: 'frozen', model}, {kind: 'adapters-disabled', withAdaptersDisabled} (LoRA) or {kind: 'none'} (simpo/orpo)");
    if (reference?.kind === 'none' && this.usesReference) problems.push(`loss types ${types.join(', ')} need a reference policy, but reference is 'none' (set referenceFree, or use simpo/orpo)`);
    if (reference?.kind === 'adapters-disabled' && typeof (reference as { withAdaptersDisabled?: unknown }).withAdaptersDisabled !== 'function') {
      problems.push("reference 'adapters-disabled' needs withAdaptersDisabled: (fn) => withAdaptersDisabled(model, fn) from @rlhfjs/lora (the model with LoRA adapters)");
    }
    if (inputs.saveModel !== undefined && typeof inputs.saveModel !== 'function') problems.push(`saveModel must be a function, got ${typeof inputs.saveModel}`);
    if (reference?.kind === 'frozen' && reference.model === inputs.model) problems.push("reference 'frozen' must be a separate copy of the model, not the policy itself");
    if (typeof gradientCheckpointing !== 'boolean') problems.push(`gradientCheckpointing must be true or false, got ${JSON.stringify(gradientCheckpointing)}`);
    if (evalBatchSize !== undefined && !(Number.isInteger(evalBatchSize) && evalBatchSize > 0)) problems.push(`evalBatchSize must be a positive integer, got ${evalBatchSize}`);
    const parameters = inputs.model.trainableParameters();
    if (parameters.size === 0) problems.push('the model has no trainable parameters');
    const wrapped = inputs.model.linearNames().find((name) => inputs.model.linear(name).kind !== 'linear');
    if (inputs.saveModel === undefined && wrapped !== undefined && trainerConfig.saveEvery > 0) {
      // checkpoint-N/ holds the model (save()); the default saveCausalLM cannot write LoRA or 4-bit layers
      problems.push(`checkpoints (saveEvery ${trainerConfig.saveEvery}) of a model with ${inputs.model.linear(wrapped).kind} layers (${wrapped}, …) need saveModel, e.g. (directory) => saveAdapter(model, directory) from @rlhfjs/lora`);
    }
    if (problems.length > 0) throw new ConfigError('DPOTrainer', problems);
    this.inputs = inputs;
    this.reference = reference as ReferencePolicy;
    this.precompute = precomputeReferenceLogProbs && this.usesReference;
    this.evalBatchSize = evalBatchSize ?? trainerConfig.batchSize;
    this.outputDir = trainerConfig.outputDir;
    const tokenize = (records: readonly PreferenceRecord[]): DpoExample[] =>
      records.map((record, index) => ({ index, ...tokenizePreferenceExample(record, inputs.tokenizer, { maxLength, maxPromptLength }) }));
    this.trainExamples = tokenize(inputs.trainDataset);
    this.evalExamples = inputs.evalDataset === undefined ? [] : tokenize(inputs.evalDataset);
    this.trainer = new Trainer<DpoExample>(
      {
        name: 'dpo',
        examples: this.trainExamples,
        parameters,
        computeLoss: (batch, counts) => this.computeLoss(batch, counts),
        countUnits: (batch) => {
          // score the reference here, before the step's gradient tape opens, so its activations are never recorded
          if (!this.pending.has(batch)) this.pending.set(batch, this.referenceFor(batch, 'train', this.collate(batch)));
          return { tokens: batch.reduce((sum, example) => sum + example.chosenIds.length + example.rejectedIds.length, 0), sequences: batch.length };
        },
        evaluate: this.evalExamples.length === 0 ? undefined : async () => this.evaluate(),
        saveModel: (directory) => this.save(directory), // checkpoint-N/ loads as a model (or a PEFT adapter)
        runFiles: [REFERENCE_LOGPS_CACHE_FILE], // a cache of one run: reused on resume, removed by overwriteOutputDir
      },
      trainerOptions,
      { reducer: inputs.reducer },
    );
    // the policy only; a reference sharing it (adapters disabled) scores outside the gradient tape, where the
    // checkpointed blocks save nothing
    this.undoCheckpointing = gradientCheckpointing ? enableGradientCheckpointing(inputs.model) : () => undefined;
  }

  private collate(batch: readonly DpoExample[]): ConcatenatedPreferenceBatch {
    return collatePreferenceBatch(batch, this.inputs.tokenizer.padTokenId);
  }

  private referenceFor(batch: readonly DpoExample[], split: 'train' | 'eval', collated: ConcatenatedPreferenceBatch): ReferenceLogps | null {
    if (!this.usesReference) return null;
    if (this.precomputed !== null) {
      const table = this.precomputed[split];
      return { chosen: Float32Array.from(batch, (example) => table.chosen[example.index] as number), rejected: Float32Array.from(batch, (example) => table.rejected[example.index] as number) };
    }
    return referenceLogps(this.reference, this.inputs.model, collated);
  }

  /** Loss and metrics of one batch; `counts` null: the plain mean over its pairs (evaluation). */
  private lossOf(batch: readonly DpoExample[], collated: ConcatenatedPreferenceBatch, reference: ReferenceLogps | null, counts: StepCounts | null): LossResult {
    return tf.tidy(() => {
      const forward = concatenatedForward(this.inputs.model, collated);
      const chosenLengths = tf.tensor1d(collated.chosenLengths);
      const rejectedLengths = tf.tensor1d(collated.rejectedLengths);
      const result = dpoLoss(
        {
          policyChosenLogps: forward.chosenLogps,
          policyRejectedLogps: forward.rejectedLogps,
          referenceChosenLogps: reference === null ? undefined : tf.tensor1d(reference.chosen),
          referenceRejectedLogps: reference === null ? undefined : tf.tensor1d(reference.rejected),
          chosenLengths: this.needsLengths ? chosenLengths : undefined,
          rejectedLengths: this.needsLengths ? rejectedLengths : undefined,
          chosenNll: tf.div(tf.neg(forward.chosenLogps), tf.maximum(chosenLengths, 1)) as tf.Tensor1D, // mean NLL per chosen token [B]
        },
        this.lossConfig,
        // Σ per-pair losses / pairs of the whole step × worldSize: accumulation and ranks equal one big batch
        counts === null ? {} : { globalPairCount: counts.sequences, worldSize: counts.worldSize },
      );
      const loss = result.loss;
      return { loss, metrics: { ...result.metrics, 'logits/chosen': forward.chosenMeanLogits, 'logits/rejected': forward.rejectedMeanLogits } };
    }) as unknown as LossResult;
  }

  private computeLoss(batch: readonly DpoExample[], counts: StepCounts): LossResult {
    const collated = this.collate(batch);
    const reference = this.pending.has(batch) ? (this.pending.get(batch) as ReferenceLogps | null) : this.referenceFor(batch, 'train', collated);
    this.pending.delete(batch);
    return this.lossOf(batch, collated, reference, counts);
  }

  /** Scores every pair of both splits under the reference, in batches; loads/saves the JSON cache in outputDir. */
  async precomputeReferenceLogProbs(): Promise<void> {
    if (!this.usesReference) return;
    const file = this.outputDir === null ? null : path.join(this.outputDir, REFERENCE_LOGPS_CACHE_FILE);
    if (file !== null) {
      const cached = await readCache(file);
      if (cached !== null && cached.train.chosen.length === this.trainExamples.length && cached.eval.chosen.length === this.evalExamples.length) {
        this.precomputed = cached;
        return;
      }
    }
    const table = (examples: readonly DpoExample[]): ReferenceTable => {
      const chosen = new Float32Array(examples.length);
      const rejected = new Float32Array(examples.length);
      for (let start = 0; start < examples.length; start += this.evalBatchSize) {
        const batch = examples.slice(start, start + this.evalBatchSize);
        const scored = referenceLogps(this.reference, this.inputs.model, this.collate(batch)) as ReferenceLogps;
        batch.forEach((example, i) => {
          chosen[example.index] = scored.chosen[i] as number;
          rejected[example.index] = scored.rejected[i] as number;
        });
      }
      return { chosen, rejected };
    };
    this.precomputed = { train: table(this.trainExamples), eval: table(this.evalExamples) };
    if (file !== null && (this.inputs.reducer?.rank ?? 0) === 0) {
      await fs.mkdir(path.dirname(file), { recursive: true });
      const plain = (t: ReferenceTable) => ({ chosen: Array.from(t.chosen), rejected: Array.from(t.rejected) });
      await writeFileAtomic(file, JSON.stringify({ train: plain(this.precomputed.train), eval: plain(this.precomputed.eval) }));
    }
  }

  /** Held-out DPO metrics (means over the eval pairs): loss, rewards/*, logps/*, logits/*. */
  async evaluate(): Promise<DpoMetrics> {
    if (this.evalExamples.length === 0) throw new ConfigError('DPOTrainer.evaluate', ['no evalDataset was given']);
    const sums: Record<string, number> = {};
    for (let start = 0; start < this.evalExamples.length; start += this.evalBatchSize) {
      const batch = this.evalExamples.slice(start, start + this.evalBatchSize);
      const collated = this.collate(batch);
      const { loss, metrics = {} } = this.lossOf(batch, collated, this.referenceFor(batch, 'eval', collated), null);
      const entries: [string, tf.Scalar | number][] = [['loss', loss], ...Object.entries(metrics)];
      for (const [key, value] of entries) {
        const number = typeof value === 'number' ? value : ((await value.data())[0] as number);
        if (typeof value !== 'number') value.dispose();
        sums[key] = (sums[key] ?? 0) + number * batch.length;
      }
    }
    return Object.fromEntries(Object.entries(sums).map(([key, sum]) => [key, sum / this.evalExamples.length])) as DpoMetrics;
  }

  async train(): Promise<TrainResult> {
    // the output directory is checked first: a used one is refused, or overwritten, before its cache could be read
    await this.trainer.prepareOutputDir();
    if (this.precompute && this.precomputed === null) await this.precomputeReferenceLogProbs();
    try {
      return await this.trainer.train();
    } finally {
      this.pending.clear();
    }
  }

  /** The policy as `saveModel` writes it (default the whole model in HF format), the tokenizer beside it. */
  async save(directory: string): Promise<void> {
    if (this.inputs.saveModel !== undefined) await this.inputs.saveModel(directory);
    else await saveCausalLM(this.inputs.model, directory);
    await this.inputs.tokenizer.save(directory);
  }

  /** Frees the optimizer state and undoes gradientCheckpointing; the models stay the caller's. */
  dispose(): void {
    this.trainer.dispose();
    this.undoCheckpointing();
  }
}

async function readCache(file: string): Promise<{ train: ReferenceTable; eval: ReferenceTable } | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as { train: { chosen: number[]; rejected: number[] }; eval: { chosen: number[]; rejected: number[] } };
    const table = (t: { chosen: number[]; rejected: number[] }): ReferenceTable => ({ chosen: Float32Array.from(t.chosen), rejected: Float32Array.from(t.rejected) });
    return { train: table(parsed.train), eval: table(parsed.eval) };
  } catch (error) {
    throw new CheckpointError(`DPOTrainer: ${file} is not a valid reference log-prob cache`, { cause: error });
  }
}
