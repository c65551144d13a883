import type { Rng } from './rng';

/**
 * `size` samples of N(0, std²) by Box–Muller from a seeded generator (host-side: far faster than tf.randomNormal
 * with a seed). Shared by `createCausalLM`'s init and the scale bench's checkpoint writer.
 */
export function normalSample(size: number, std: number, rng: Rng): Float32Array {
  const out = new Float32Array(size); // [size]
  for (let i = 0; i < size; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - rng.next())) * std;
    const angle = 2 * Math.PI * rng.next();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < size) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}
