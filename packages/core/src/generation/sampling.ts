import type { Rng } from '../data/rng';
import { TrainingError } from '../errors/errors';

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
  if (!config.doSample) {
    // greedy: the same sum as below without keeping a [V] array per row (a fresh 8·V bytes each step)
    let total = 0;
    let best = 0;
    for (let v = 0; v < vocab; v++) {
      total += Math.exp((logits[v] as number) / temperature - maximum);
      if ((logits[v] as number) > (logits[best] as number)) best = v;
    }
    return { token: best, logProb: (logits[best] as number) / temperature - maximum - Math.log(total) };
  }
  const probabilities = new Float64Array(vocab);
  let total = 0;
  for (let v = 0; v < vocab; v++) {
    const p = Math.exp((logits[v] as number) / temperature - maximum);
    probabilities[v] = p;
    total += p;
  }
  const logTotal = Math.log(total);
  const logProbOf = (token: number): number => (logits[token] as number) / temperature - maximum - logTotal;
  if (Number.isNaN(total)) throw new TrainingError('NON_FINITE_LOGITS', `sampleToken: the logits row of ${vocab} entries holds NaN; cannot sample`);
  // Candidates in HF's order (probability descending, ties by token id), kept as their probabilities: a native
  // numeric sort instead of a comparator over token ids; the token at a sorted position is recovered afterwards.
  const sorted = Float64Array.from(probabilities).sort().reverse(); // [V] descending
  let count = vocab;
  if (config.topK > 0 && config.topK < vocab) count = config.topK;
  if (config.topP < 1) {
    let cumulative = 0;
    for (let i = 0; i < count; i++) {
      cumulative += (sorted[i] as number) / total;
      if (cumulative >= config.topP) {
        count = i + 1; // keeps at least one token, as HF's TopPLogitsWarper
        break;
      }
    }
  }
  let mass = 0;
  for (let i = 0; i < count; i++) mass += sorted[i] as number;
  let threshold = rng.next() * mass;
  let position = count - 1;
  for (let i = 0; i < count; i++) {
    threshold -= sorted[i] as number;
    if (threshold < 0) {
      position = i;
      break;
    }
  }
  const token = tokenAtSortedPosition(probabilities, sorted, position);
  return { token, logProb: logProbOf(token) };
}

/** The token at `position` of the order probability descending, ties by ascending token id. */
function tokenAtSortedPosition(probabilities: Float64Array, sorted: Float64Array, position: number): number {
  const value = sorted[position] as number;
  let rank = 0; // earlier positions holding the same probability: the rank among the tied tokens by id
  for (let i = position - 1; i >= 0 && sorted[i] === value; i--) rank++;
  for (let v = 0; v < probabilities.length; v++) {
    if (probabilities[v] === value) {
      if (rank === 0) return v;
      rank--;
    }
  }
  return sorted.length - 1; // unreachable: every sorted value is one of the (non-NaN) probabilities
}
