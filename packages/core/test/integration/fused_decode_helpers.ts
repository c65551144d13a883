import * as tf from '@tensorflow/tfjs';
import { createKVCache, disposeCache } from '../../src/model/kv_cache';
import type { CausalLM } from '../../src/model/causal_lm';
import type { LinearLayer } from '../../src/model/linear';

// Shared by the fused decode-step tests (GPT-2 and Llama family) on the native backend.

/** Whether @rlhfjs/native is built here (CI builds it, so there a missing addon fails instead of skipping). */
export function nativeBuilt(): boolean {
  try {
    const native = require(['@rlhfjs', 'native'].join('/')) as { isNativeAvailable(): boolean };
    return native.isNativeAvailable();
  } catch {
    return false;
  }
}

/** `describe` where the addon is built or under CI, else `describe.skip` with a warning naming `what`. */
export function describeNativeFor(what: string): jest.Describe {
  if (!nativeBuilt() && !process.env['CI']) console.warn(`[${what}] skipped: @rlhfjs/native is not built here`);
  return nativeBuilt() || process.env['CI'] ? describe : describe.skip;
}

/** Runs `fn` with the given kernels unregistered from the active backend, then restores them. */
export function withoutKernels<T>(names: readonly string[], fn: () => T): T {
  // kernels already removed by an enclosing call are left to it
  const configs = names.map((name) => tf.getKernel(name, tf.getBackend())).filter((config): config is tf.KernelConfig => config !== undefined);
  for (const config of configs) tf.unregisterKernel(config.kernelName, config.backendName);
  try {
    return fn();
  } finally {
    for (const config of configs) tf.registerKernel(config);
  }
}

/**
 * Logits [B, V] of a prefill of `prompt` (with `mask`) then `steps` one-token steps feeding `nextIds(step)` on a
 * preallocated cache, one array per forward.
 */
export function decodeStepLogits(model: CausalLM, prompt: number[][], mask: readonly number[][], steps: number, nextIds: (step: number) => number[][]): Float32Array[] {
  const rows = mask.map((row) => [...row]);
  let cache = createKVCache(model.config, prompt.length, (prompt[0] as number[]).length + steps);
  const result: Float32Array[] = [];
  try {
    for (let step = 0; step <= steps; step++) {
      const ids = tf.tensor2d(step === 0 ? prompt : nextIds(step), undefined, 'int32'); // [B, T]
      if (step > 0) rows.forEach((row) => row.push(1));
      const attention = tf.tensor2d(rows, undefined, 'int32'); // [B, P + T]
      const output = model.forward({ inputIds: ids, attentionMask: attention, cache, useCache: true, logits: 'last' });
      tf.dispose([ids, attention]);
      disposeCache(cache);
      cache = output.cache!;
      output.hiddenStates.dispose();
      result.push(Float32Array.from(output.logits!.dataSync()));
      output.logits!.dispose();
    }
  } finally {
    disposeCache(cache);
  }
  return result;
}

/** A linear layer of kind 'wrapper' around `inner` with the same output (as LoRA or 4-bit layers wrap one). */
export function wrapLinear(inner: LinearLayer): LinearLayer {
  return {
    kind: 'wrapper',
    inFeatures: inner.inFeatures,
    outFeatures: inner.outFeatures,
    forward: (x) => inner.forward(x),
    parameters: () => inner.parameters(),
    dispose: () => undefined,
  };
}
