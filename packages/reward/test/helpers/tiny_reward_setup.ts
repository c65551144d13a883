import * as tf from '@tensorflow/tfjs';
import { createCausalLM, type GradientReducer, type Tokenizer } from '@rlhfjs/core';
import { RewardModel } from '../../src/model/reward_model';
import { arithmeticPreferences } from './arithmetic_preferences';
import { tinyTokenizer } from './tiny_tokenizer';

/** A tiny arithmetic preference corpus and its tokenizer (shared by the trainer tests). */
export function tinyCorpus(count = 32): { examples: ReturnType<typeof arithmeticPreferences>['examples']; tokenizer: Tokenizer } {
  const { examples } = arithmeticPreferences(count, 5, 0, 4);
  return { examples, tokenizer: tinyTokenizer(examples.map((pair) => `${pair.prompt}${pair.chosen}`), 270) };
}

/** A 1-layer Llama reward model; the same seeds give bit-identical models. */
export function tinyRewardModel(tokenizer: Tokenizer): RewardModel {
  const backbone = createCausalLM(
    { modelType: 'llama', vocabSize: tokenizer.vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, eosTokenId: tokenizer.eosTokenId, maxPositions: 32 },
    { seed: 0 },
  );
  return RewardModel.fromCausalLM(backbone, { seed: 1, padTokenId: tokenizer.padTokenId });
}

/** Every parameter's values, by name (host copies). */
export function snapshot(parameters: ReadonlyMap<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...parameters].map(([name, variable]) => [name, Float32Array.from(variable.dataSync())]));
}

export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/**
 * An in-process group of `worldSize` reducers that average gradients and sum numbers across their ranks, for
 * running N trainers concurrently in one process as if they were N data-parallel ranks.
 */
export function inMemoryGroup(worldSize: number): GradientReducer[] {
  let pending: Array<{ rank: number; value: unknown; resolve: (result: unknown) => void }> = [];
  const collective = (rank: number, value: unknown, combine: (values: unknown[]) => unknown): Promise<unknown> =>
    new Promise((resolve) => {
      pending.push({ rank, value, resolve });
      if (pending.length === worldSize) {
        const round = pending.sort((a, b) => a.rank - b.rank);
        pending = [];
        const result = combine(round.map((entry) => entry.value));
        for (const entry of round) entry.resolve(result);
      }
    });
  return Array.from({ length: worldSize }, (_, rank) => ({
    rank,
    worldSize,
    async allReduceGradients(gradients: tf.NamedTensorMap): Promise<tf.NamedTensorMap> {
      const host = Object.fromEntries(Object.entries(gradients).map(([name, tensor]) => [name, { data: Float32Array.from(tensor.dataSync()), shape: tensor.shape }]));
      const averaged = (await collective(rank, host, (values) => {
        const maps = values as Array<typeof host>;
        return Object.fromEntries(
          Object.entries(maps[0] as typeof host).map(([name, entry]) => {
            const data = new Float32Array(entry.data.length);
            for (const map of maps) {
              const other = (map[name] as typeof entry).data;
              for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) + (other[i] as number) / worldSize;
            }
            return [name, { data, shape: entry.shape }];
          }),
        );
      })) as typeof host;
      return Object.fromEntries(Object.entries(averaged).map(([name, entry]) => [name, tf.tensor(entry.data, entry.shape)]));
    },
    async allReduceSum(values: readonly number[]): Promise<number[]> {
      return (await collective(rank, [...values], (all) => (all as number[][]).reduce((sum, row) => sum.map((s, i) => s + (row[i] as number))))) as number[];
    },
  }));
}
