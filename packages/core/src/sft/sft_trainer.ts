import * as tf from '@tensorflow/tfjs';
import { collateBatch } from '../data/collate';
import { packExamples } from '../data/pack';
import type { SftRecord } from '../data/records';
import { tokenizeSftExample, type TokenizedSftExample } from '../data/sft_tokenize';
import { ConfigError, TokenizerError } from '../errors/errors';
import { writeFilesInto } from '../io/atomic_write';
import type { CausalLM } from '../model/causal_lm';
import { enableGradientCheckpointing } from '../model/gradient_checkpointing';
import { saveCausalLM } from '../model/model_factory';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { LossAggregationMode } from '../train/aggregate_loss';
import type { GradientReducer } from '../train/reducer';
import { Trainer, type TrainerHooks, type TrainResult } from '../train/trainer';
import { resolveTrainerConfig, type TrainerOptions } from '../train/trainer_config';
import { countLossUnits, languageModelingLoss, type LanguageModelingBatch } from './sft_loss';

export interface SFTTrainerOptions extends TrainerOptions {
  /** Longest tokenized example (default 512). */
  maxLength?: number;
  /** Train only on completions / assistant turns (default true, as TRL). */
  completionOnlyLoss?: boolean;
  /** Pack short examples into rows of maxLength (default false). Attention never crosses examples. */
  packing?: boolean;
  /** Default 'token' (every target token weighs the same). */
  lossAggregation?: LossAggregationMode;
  /** Recompute each block's activations in the backward pass instead of holding them (default false). */
  gradientCheckpointing?: boolean;
}

export interface SFTInputs {
  model: CausalLM;
  tokenizer: Tokenizer;
  trainDataset: readonly SftRecord[];
  evalDataset?: readonly SftRecord[];
  reducer?: GradientReducer;
  /** Observers of the training loop. */
  hooks?: TrainerHooks;
  /**
   * Writes the trained model into a folder: used for every `checkpoint-N/` (so it loads as a model, as HF Trainer's
   * do) and by `save()`. Default: `saveCausalLM` + the tokenizer files. A model with LoRA adapters or 4-bit layers
   * needs one when checkpointing, e.g. `async (directory) => { await saveAdapter(model, directory); await tokenizer.save(directory); }`.
   */
  saveModel?: (directory: string) => Promise<void>;
}

/**
 * Supervised fine-tuning: next-token loss on completions (prompt tokens masked by default), optional packing,
 * on the shared Trainer loop. It trains `model.trainableParameters()`, so a model with LoRA adapters (or a 4-bit
 * base) trains unchanged.
 */
export class SFTTrainer {
  readonly trainer: Trainer<LanguageModelingBatch>;
  private readonly inputs: SFTInputs;
  private readonly evalRows: LanguageModelingBatch[];

  constructor(inputs: SFTInputs, options: SFTTrainerOptions = {}) {
    const { maxLength = 512, completionOnlyLoss = true, packing = false, lossAggregation = 'token', gradientCheckpointing = false, ...trainerOptions } = options;
    const problems: string[] = [];
    if (!Number.isInteger(maxLength) || maxLength < 2) problems.push(`maxLength must be an integer ≥ 2, got ${maxLength}`);
    if (inputs.trainDataset.length === 0) problems.push('trainDataset is empty');
    if (problems.length > 0) throw new ConfigError('SFTTrainer', problems);
    const config = resolveTrainerConfig(trainerOptions, 'SFTTrainer');
    this.inputs = inputs;
    const { model, tokenizer } = inputs;
    this.undoCheckpointing = gradientCheckpointing ? enableGradientCheckpointing(model) : () => undefined;
    const tokenize = (records: readonly SftRecord[]): TokenizedSftExample[] =>
      records.map((record) => tokenizeSftExample(record, tokenizer, { maxLength, completionOnlyLoss }));
    const toRows = (examples: TokenizedSftExample[]): LanguageModelingBatch[] => {
      if (!packing) return examples.map((example) => ({ inputIds: [example.inputIds], attentionMask: [example.inputIds.map(() => 1)], lossMask: [example.lossMask] }));
      const packed = packExamples(examples, { seqLength: maxLength, padTokenId: tokenizer.padTokenId });
      return packed.inputIds.map((row, i) => ({
        inputIds: [row],
        attentionMask: [packed.attentionMask[i] as number[]],
        lossMask: [packed.lossMask[i] as number[]],
        positionIds: [packed.positionIds[i] as number[]],
        segmentIds: [packed.segmentIds[i] as number[]],
      }));
    };
    const rows = toRows(tokenize(inputs.trainDataset));
    // A tokenizer that encodes the text to nothing (or a mask that hides every token) would train on loss 0.
    if (countLossUnits(rows.flatMap((row) => row.lossMask)).tokens === 0) {
      throw new TokenizerError(
        `SFTTrainer: the ${inputs.trainDataset.length} training examples tokenize to no token the loss can train on ` +
          `(longest example: ${Math.max(0, ...rows.map((row) => (row.inputIds[0] ?? []).length))} tokens); ` +
          'the tokenizer encodes the text to nothing, or every completion is empty or truncated away',
      );
    }
    this.evalRows = inputs.evalDataset === undefined ? [] : toRows(tokenize(inputs.evalDataset));
    const parameters = model.trainableParameters();
    if (parameters.size === 0) throw new ConfigError('SFTTrainer', ['the model has no trainable parameters']);
    const wrapped = model.linearNames().filter((name) => model.linear(name).kind !== 'linear');
    if (inputs.saveModel === undefined && wrapped.length > 0 && config.saveEvery > 0) {
      throw new ConfigError('SFTTrainer', [
        `checkpoints (saveEvery ${config.saveEvery}) of a model with ${model.linear(wrapped[0] as string).kind} layers (${wrapped[0]}, …) need inputs.saveModel, e.g. one that calls @rlhfjs/lora's saveAdapter`,
      ]);
    }
    this.saveModel = inputs.saveModel ?? (async (directory) => {
      await saveCausalLM(model, directory);
      await tokenizer.save(directory);
    });
    const collate = (batch: readonly LanguageModelingBatch[]): LanguageModelingBatch => {
      if (packing) return mergeRows(batch);
      const collated = collateBatch(batch.map((row) => ({ inputIds: row.inputIds[0] as number[], lossMask: row.lossMask[0] as number[] })), { padTokenId: tokenizer.padTokenId, paddingSide: 'right' });
      return { inputIds: collated.inputIds, attentionMask: collated.attentionMask, lossMask: collated.lossMask };
    };
    this.trainer = new Trainer<LanguageModelingBatch>(
      {
        name: 'sft',
        examples: rows,
        parameters,
        computeLoss: (batch, counts) => languageModelingLoss(model, collate(batch), counts, lossAggregation),
        countUnits: (batch) => countLossUnits(batch.flatMap((row) => row.lossMask)),
        evaluate: this.evalRows.length === 0 ? undefined : async () => ({ loss: this.evaluateLoss(config.batchSize) }),
        saveModel: (directory) => this.saveModel(directory),
      },
      trainerOptions,
      { reducer: inputs.reducer, hooks: inputs.hooks },
    );
    this.collate = collate;
  }

  private readonly collate: (batch: readonly LanguageModelingBatch[]) => LanguageModelingBatch;
  private readonly saveModel: (directory: string) => Promise<void>;
  /** Puts the model's own block function back (gradientCheckpointing); a no-op without it. */
  private readonly undoCheckpointing: () => void;

  /** Mean next-token loss over the held-out set (token-weighted). */
  evaluateLoss(batchSize = 8): number {
    let total = 0;
    let tokens = 0;
    for (let start = 0; start < this.evalRows.length; start += batchSize) {
      const batch = this.collate(this.evalRows.slice(start, start + batchSize));
      const units = countLossUnits(batch.lossMask);
      if (units.tokens === 0) continue;
      const { loss } = languageModelingLoss(this.inputs.model, batch, null);
      total += (loss.dataSync()[0] as number) * units.tokens;
      loss.dispose();
      tokens += units.tokens;
    }
    return tokens === 0 ? Number.NaN : total / tokens;
  }

  train(): Promise<TrainResult> {
    return this.trainer.train();
  }

  /**
   * Writes the model in HF format with the tokenizer beside it (or what inputs.saveModel writes) into `directory`,
   * each file replaced atomically (written beside, fsynced, renamed over); checkpoints and logs there are kept.
   */
  async save(directory: string): Promise<void> {
    await writeFilesInto(directory, this.saveModel);
  }

  dispose(): void {
    this.trainer.dispose();
    this.undoCheckpointing();
    tf.tidy(() => undefined);
  }
}

/** Packed rows all have the same length: stack them. */
function mergeRows(rows: readonly LanguageModelingBatch[]): LanguageModelingBatch {
  return {
    inputIds: rows.flatMap((row) => row.inputIds),
    attentionMask: rows.flatMap((row) => row.attentionMask),
    lossMask: rows.flatMap((row) => row.lossMask),
    positionIds: rows.flatMap((row) => row.positionIds ?? []),
    segmentIds: rows.flatMap((row) => row.segmentIds ?? []),
  };
}
