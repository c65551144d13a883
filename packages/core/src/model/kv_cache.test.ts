import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { ShapeError } from '../errors/errors';
import { loadCausalLM } from './model_factory';
import { appendKeyValue, createKVCache, disposeCache, selectCacheRows, writeKeyValue, type KVCache } from './kv_cache';

const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures', 'models');

describe('KV cache', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('writeKeyValue replaces exactly positions [p, p + T) of every (row, head)', () => {
    tf.tidy(() => {
      const buffer = tf.reshape(tf.range(0, 2 * 1 * 4 * 2, 1, 'float32'), [2, 1, 4, 2]) as tf.Tensor4D; // [B, H, C, d]
      const update = tf.fill([2, 1, 2, 2], -1) as tf.Tensor4D; // [B, H, T, d]
      const written = writeKeyValue(buffer, update, 1).arraySync();
      expect(written).toEqual([[[[0, 1], [-1, -1], [-1, -1], [6, 7]]], [[[8, 9], [-1, -1], [-1, -1], [14, 15]]]]);
      expect(writeKeyValue(buffer, update, 2).arraySync()[0]).toEqual([[[0, 1], [2, 3], [-1, -1], [-1, -1]]]);
      expect(() => writeKeyValue(buffer, update, 3)).toThrow(ShapeError);
      expect(() => writeKeyValue(buffer, update, 3)).toThrow(/update \[2,1,2,2\] at position 3 of a cache buffer \[2,1,4,2\]/);
      // a growing cache (no spare room) concatenates
      expect(appendKeyValue(buffer, update, undefined).shape).toEqual([2, 1, 6, 2]);
      expect(appendKeyValue(null, update, undefined)).toBe(update);
    });
  });

  it.each(['gpt2', 'qwen2'])('%s: a preallocated cache gives the logits of a growing cache, prefill and decode (padded batch)', async (name) => {
    const model = await loadCausalLM(path.join(FIXTURES, name));
    const before = tf.memory().numTensors;
    const prompt = [[5, 6, 7], [0, 9, 10]];
    const promptMask = [[1, 1, 1], [0, 1, 1]];
    const steps = [[[11], [12]], [[13], [14]]];
    const run = (preallocated: boolean): number[][] => {
      let cache: KVCache | null = preallocated ? createKVCache(model.config, 2, 6) : null;
      const mask = promptMask.map((row) => [...row]);
      const logits: number[][] = [];
      for (const ids of [prompt, ...steps]) {
        const inputIds = tf.tensor2d(ids, undefined, 'int32'); // [B, T]
        const attentionMask = tf.tensor2d(mask, undefined, 'int32'); // [B, P + T]
        const out = model.forward({ inputIds, attentionMask, cache, useCache: true, logits: 'last' });
        tf.dispose([inputIds, attentionMask]);
        disposeCache(cache);
        cache = out.cache;
        logits.push(Array.from(out.logits?.dataSync() ?? []));
        tf.dispose([out.logits as tf.Tensor, out.hiddenStates]);
        mask.forEach((row) => row.push(1));
      }
      expect(cache?.length).toBe(5);
      expect(cache?.keys[0]?.shape[2]).toBe(preallocated ? 6 : 5);
      disposeCache(cache);
      return logits;
    };
    const growing = run(false);
    const preallocated = run(true);
    preallocated.forEach((row, step) => row.forEach((value, i) => expect(Math.abs(value - (growing[step]?.[i] as number))).toBeLessThan(1e-4)));
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('selectCacheRows keeps the chosen rows of every buffer; bad rows and a full cache are ShapeErrors', async () => {
    const model = await loadCausalLM(path.join(FIXTURES, 'qwen2'));
    const cache = createKVCache(model.config, 3, 4);
    expect(cache.keys[0]?.shape).toEqual([3, 2, 4, 8]); // [B, Hkv, C, d]
    const filled: KVCache = { ...cache, keys: cache.keys.map((k, l) => tf.tidy(() => tf.add(k, tf.reshape(tf.tensor1d([l, 10 + l, 20 + l]), [3, 1, 1, 1])) as tf.Tensor4D)) };
    const picked = selectCacheRows(filled, [2, 0]);
    expect(picked.keys[1]?.shape).toEqual([2, 2, 4, 8]);
    expect(Array.from(tf.tidy(() => tf.max(picked.keys[1] as tf.Tensor, [1, 2, 3])).dataSync())).toEqual([21, 1]);
    expect(picked.capacity).toBe(4);
    expect(() => selectCacheRows(filled, [3])).toThrow(/rows \[3\] are not a non-empty list of rows of a cache of batch 3/);
    const ids = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
    const one = createKVCache(model.config, 1, 4);
    expect(() => model.forward({ inputIds: ids, cache: one, useCache: true })).toThrow(ShapeError);
    const two = tf.tensor2d([[1], [2]], undefined, 'int32');
    expect(() => model.forward({ inputIds: two, cache: one, useCache: true })).toThrow(/another batch size/);
    expect(() => createKVCache(model.config, 0, 4)).toThrow(/batch and capacity must be positive integers/);
    tf.dispose([ids, two]);
    [cache, filled, picked, one].forEach(disposeCache);
    model.dispose();
  });
});
