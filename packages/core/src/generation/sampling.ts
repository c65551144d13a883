import type { Rng } from '../data/rng';

export interface SamplingConfig {
  readonly doSample: boolean;
  readonly temperature: number;
  /** 0 disables top-k. */
  readonly topK: number;
  /** 1 disables top-p (nucleus). */
  readonly topP: number;
}

export interface SampledToken {
  readonly token: number;
  /** log p(token) under the model's distribution at the temperature (before top-k/top-p filtering). */
  readonly logProb: number;
}

/** Picks the next token from one row of logits [V], as HF's sampling processors do (temperature → top-k → top-p). */
export function sampleToken(logits: Float32Array, config: SamplingConfig, rng: Rng): SampledToken {
  const vocab = logits.length;
  const temperature = config.doSample ? config.temperature : 1;
  let maximum = -Infinity;
  for (let v = 0; v < vocab; v++) maximum = Math.max(maximum, (logits[v] as number) / temperature);
  const probabilities = new Float64Array(vocab);
  let total = 0;
  for (let v = 0; v < vocab; v++) {
    const p = Math.exp((logits[v] as number) / temperature - maximum);
    probabilities[v] = p;
    total += p;
  }
  const logTotal = Math.log(total);
  const logProbOf = (token: number): number => (logits[token] as number) / temperature - maximum - logTotal;
  if (!config.doSample) {
    let best = 0;
    for (let v = 1; v < vocab; v++) if ((logits[v] as number) > (logits[best] as number)) best = v;
    return { token: best, logProb: logProbOf(best) };
  }
  let candidates = Array.from({ length: vocab }, (_, v) => v).sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number) || a - b);
  if (config.topK > 0 && config.topK < vocab) candidates = candidates.slice(0, config.topK);
  if (config.topP < 1) {
    let cumulative = 0;
    const kept: number[] = [];
    for (const v of candidates) {
      kept.push(v);
      cumulative += (probabilities[v] as number) / total;
      if (cumulative >= config.topP) break; // keeps at least one token, as HF's TopPLogitsWarper
    }
    candidates = kept;
  }
  let mass = 0;
  for (const v of candidates) mass += probabilities[v] as number;
  let threshold = rng.next() * mass;
  for (const v of candidates) {
    threshold -= probabilities[v] as number;
    if (threshold < 0) return { token: v, logProb: logProbOf(v) };
  }
  const last = candidates[candidates.length - 1] as number;
  return { token: last, logProb: logProbOf(last) };
}
