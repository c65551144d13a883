// Worker process for ddp_equivalence.test.ts. Runs the scenarios named in SCENARIOS (comma-separated: sft, dpo,
// whiten) in order and prints one `RESULT <json>` line per scenario. With SINGLE=1 it is the one-process
// reference (IdentityReducer, global batch 8); otherwise it joins a process group from the environment
// (RANK, WORLD_SIZE, MASTER_*) and trains with a DistributedReducer (batch 4 per rank).
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  IdentityReducer,
  SFTTrainer,
  Tokenizer,
  createCausalLM,
  createRng,
  generateArithmeticCorpus,
  trainByteLevelBpe,
  writeSafetensors,
  type CausalLM,
  type GradientReducer,
  type PlainPreferenceRecord,
  type TrainResult,
} from '@rlhfjs/core';
import { DistributedReducer, initProcessGroup, type ProcessGroup } from '@rlhfjs/dist';
import { DPOTrainer } from '@rlhfjs/dpo';
import { maskedWhiten } from '@rlhfjs/ppo';
import { GLOBAL_BATCH, STEPS, whitenBatch } from './ddp_batches';


function emit(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

/** Records every `allReduceSum` input (the trainer's per-step local token/sequence counts come first). */
class RecordingReducer implements GradientReducer {
  readonly sums: number[][] = [];
  constructor(private readonly inner: GradientReducer) {}
  get rank(): number {
    return this.inner.rank;
  }
  get worldSize(): number {
    return this.inner.worldSize;
  }
  allReduceGradients(gradients: tf.NamedTensorMap): Promise<tf.NamedTensorMap> {
    return this.inner.allReduceGradients(gradients);
  }
  allReduceSum(values: readonly number[]): Promise<number[]> {
    this.sums.push([...values]);
    return this.inner.allReduceSum(values);
  }
}

function gpt2(vocabSize: number, eosTokenId: number | null, seed: number): CausalLM {
  return createCausalLM({ modelType: 'gpt2', vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 48, eosTokenId }, { seed });
}

/** Rank 0's weights on every rank: rank r > 0 builds a differently seeded model that only the broadcast fixes. */
async function syncedModel(build: (seed: number) => CausalLM, seed: number, rank: number, reducer: DistributedReducer | null): Promise<CausalLM> {
  const model = build(seed + 1000 * rank);
  if (reducer !== null) await reducer.broadcastParameters(model.namedParameters(), 0);
  return model;
}

async function saveParameters(model: CausalLM, file: string): Promise<Map<string, Float32Array>> {
  const state = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [name, variable] of model.namedParameters()) state.set(name, { data: (await variable.data()) as Float32Array, shape: [...variable.shape] });
  await writeSafetensors(file, state);
  return new Map([...state].map(([name, entry]) => [name, entry.data]));
}

function maxAbsDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let largest = 0;
  for (const [name, values] of a) {
    const other = b.get(name) as Float32Array;
    for (let index = 0; index < values.length; index += 1) largest = Math.max(largest, Math.abs((values[index] as number) - (other[index] as number)));
  }
  return largest;
}

function summary(result: TrainResult): Array<{ loss: number; gradNorm: number }> {
  return result.history.map((record) => ({ loss: record.loss as number, gradNorm: record.gradNorm as number }));
}

interface Context {
  rank: number;
  worldSize: number;
  group: ProcessGroup | null;
  outputDir: string;
}

/** Per-rank batch; ACCUMULATION=k (single process only) splits it into k accumulated micro-batches. */
function batchOptions(context: Context): { batchSize: number; gradientAccumulationSteps: number } {
  const accumulation = Number(process.env.ACCUMULATION ?? '1');
  return { batchSize: GLOBAL_BATCH / context.worldSize / accumulation, gradientAccumulationSteps: accumulation };
}

function reducerFor(context: Context): { distributed: DistributedReducer | null; recording: RecordingReducer } {
  const distributed = context.group === null ? null : new DistributedReducer(context.group);
  return { distributed, recording: new RecordingReducer(distributed ?? new IdentityReducer()) };
}

async function sft(context: Context): Promise<void> {
  // Operands up to 40 with '+' and '*': completions of 2 to 6 tokens, so ranks see unequal token counts.
  const corpus = generateArithmeticCorpus({ seed: 11, count: GLOBAL_BATCH * STEPS, maxOperand: 40, operations: ['+', '*'] });
  const tokenizer = new Tokenizer(trainByteLevelBpe(corpus.map((record) => `${record.prompt}${record.completion}`), { vocabSize: 280, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });
  const { distributed, recording } = reducerFor(context);
  const model = await syncedModel((seed) => gpt2(tokenizer.vocabSize, tokenizer.eosTokenId, seed), 3, context.rank, distributed);
  const initial = new Map([...model.namedParameters()].map(([name, variable]) => [name, variable.dataSync().slice() as Float32Array]));
  const trainer = new SFTTrainer(
    { model, tokenizer, trainDataset: corpus, reducer: recording },
    { ...batchOptions(context), maxSteps: STEPS, learningRate: 1e-2, lrScheduler: 'constant', maxLength: 40, lossAggregation: 'token', seed: 5, progress: false },
  );
  const result = await trainer.train();
  const final = await saveParameters(model, path.join(context.outputDir, `sft_rank${context.rank}.safetensors`));
  emit({ scenario: 'sft', rank: context.rank, history: summary(result), localCounts: recording.sums.filter((_, index) => index % 2 === 0), moved: maxAbsDifference(final, initial) });
  trainer.dispose();
  model.dispose();
}

/** "What is A + B?" → chosen: the sum; rejected: a wrong sum. Wrong answers of 1–3 digits give unequal lengths. */
function preferenceCorpus(count: number): PlainPreferenceRecord[] {
  const rng = createRng(23);
  return Array.from({ length: count }, () => {
    const a = rng.nextInt(30);
    const b = rng.nextInt(30);
    const wrong = a + b + 1 + rng.nextInt(120);
    return { kind: 'preference', style: 'plain', prompt: `What is ${a} + ${b}?`, chosen: ` ${a + b}.`, rejected: ` ${wrong} maybe.` } as const;
  });
}

async function dpo(context: Context): Promise<void> {
  const corpus = preferenceCorpus(GLOBAL_BATCH * STEPS);
  const tokenizer = new Tokenizer(trainByteLevelBpe(corpus.flatMap((r) => [`${r.prompt}${r.chosen}`, `${r.prompt}${r.rejected}`]), { vocabSize: 280, specialTokens: ['<|endoftext|>'] }), { eos_token: '<|endoftext|>' });
  const { distributed, recording } = reducerFor(context);
  const build = (seed: number): CausalLM => gpt2(tokenizer.vocabSize, tokenizer.eosTokenId, seed);
  const model = await syncedModel(build, 7, context.rank, distributed);
  const referenceModel = await syncedModel(build, 7, context.rank, distributed);
  const initial = new Map([...model.namedParameters()].map(([name, variable]) => [name, variable.dataSync().slice() as Float32Array]));
  const trainer = new DPOTrainer(
    { model, tokenizer, trainDataset: corpus, reference: { kind: 'frozen', model: referenceModel }, reducer: recording },
    { ...batchOptions(context), maxSteps: STEPS, learningRate: 2e-2, lrScheduler: 'constant', maxLength: 32, maxPromptLength: 16, beta: 0.5, lossType: 'sigmoid', seed: 9, progress: false },
  );
  const result = await trainer.train();
  const final = await saveParameters(model, path.join(context.outputDir, `dpo_rank${context.rank}.safetensors`));
  emit({ scenario: 'dpo', rank: context.rank, history: summary(result), localCounts: recording.sums.filter((_, index) => index % 2 === 0), moved: maxAbsDifference(final, initial) });
  trainer.dispose();
  model.dispose();
  referenceModel.dispose();
}

async function whiten(context: Context): Promise<void> {
  const { distributed } = reducerFor(context);
  const { values, mask } = whitenBatch();
  const rows = GLOBAL_BATCH / context.worldSize;
  const mine = (matrix: number[][]): tf.Tensor2D => tf.tensor2d(matrix.slice(context.rank * rows, (context.rank + 1) * rows));
  const valuesTensor = mine(values);
  const maskTensor = mine(mask);
  const whitened = await maskedWhiten(valuesTensor, maskTensor, { reducer: distributed ?? undefined });
  const unshifted = await maskedWhiten(valuesTensor, maskTensor, { reducer: distributed ?? undefined, shiftMean: false });
  emit({ scenario: 'whiten', rank: context.rank, whitened: whitened.arraySync(), unshifted: unshifted.arraySync() });
  tf.dispose([valuesTensor, maskTensor, whitened, unshifted]);
}

const scenarios: Record<string, (context: Context) => Promise<void>> = { sft, dpo, whiten };

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const single = process.env.SINGLE === '1';
  const group = single ? null : await initProcessGroup({ timeoutMs: 30_000, collectiveTimeoutMs: 30_000 });
  const context: Context = { rank: group?.rank ?? 0, worldSize: group?.worldSize ?? 1, group, outputDir: process.env.OUTPUT_DIR ?? '.' };
  try {
    for (const name of (process.env.SCENARIOS ?? '').split(',')) {
      const scenario = scenarios[name];
      if (scenario === undefined) throw new Error(`unknown scenario ${JSON.stringify(name)}`);
      await scenario(context);
    }
  } finally {
    await group?.destroy();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    emit({ fatal: true, rank: process.env.RANK, message: (error as Error).stack });
    process.exitCode = 1;
  });
}
