/** Per-iteration numbers the diagnostics read. */
export interface DiagnosticSample {
  readonly iteration: number;
  readonly kl: number;
  readonly scoreMean: number;
  readonly scoreStd: number;
}

/**
 * Warnings (console.warn, with the numbers) for the usual PPO failure modes: KL above a threshold, the score rising
 * while the KL explodes (likely reward hacking), and the spread of scores collapsing. Returns the messages.
 */
export function diagnose(previous: DiagnosticSample | null, current: DiagnosticSample, klWarnThreshold: number, scoreStdWarnThreshold: number): string[] {
  const messages: string[] = [];
  if (current.kl > klWarnThreshold) {
    messages.push(`PPO iteration ${current.iteration}: KL ${current.kl.toFixed(4)} exceeds ${klWarnThreshold}; raise klCoef or lower the learning rate`);
  }
  if (previous !== null && current.scoreMean > previous.scoreMean && current.kl > 2 * Math.max(previous.kl, 1e-3) && current.kl > klWarnThreshold / 2) {
    messages.push(
      `PPO iteration ${current.iteration}: score rose ${previous.scoreMean.toFixed(4)} → ${current.scoreMean.toFixed(4)} while KL jumped ${previous.kl.toFixed(4)} → ${current.kl.toFixed(4)}; likely reward hacking`,
    );
  }
  if (current.scoreStd < scoreStdWarnThreshold) {
    messages.push(`PPO iteration ${current.iteration}: score std ${current.scoreStd.toExponential(3)} < ${scoreStdWarnThreshold}; the scores have collapsed (no learning signal)`);
  }
  for (const message of messages) console.warn(message);
  return messages;
}
