// Options of one LoRA adapter (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"), with the
// defaults and semantics of PEFT's `LoraConfig` (peft/tuners/lora/config.py).
import { ConfigError } from '@rlhfjs/core';

/**
 * Which linear modules get an adapter (PEFT `target_modules`):
 * - a list of names: a module matches when its name equals an entry or ends with `.${entry}`;
 * - a RegExp: the whole module name must match (PEFT's `re.fullmatch` of a string);
 * - 'all-linear': every linear module except the output head `lm_head`.
 */
export type TargetModules = readonly string[] | RegExp | 'all-linear';

/**
 * How the adapter starts (PEFT `init_lora_weights`). In every case A and B are stored as PEFT stores them
 * ([r, in] and [out, r]) only in files; in memory A is [in, r] and B is [r, out].
 * - 'kaiming' (PEFT `true`): A ~ kaiming_uniform(a=√5) = U(−1/√in, 1/√in), B = 0, so the adapter starts as the identity.
 * - 'gaussian' (PEFT `"gaussian"`): A ~ N(0, (1/r)²), B = 0.
 * - 'random' (PEFT `false`): A and B both keep nn.Linear's default init, U(−1/√fan_in, 1/√fan_in) with fan_in = in
 *   for A and r for B; the adapter changes the outputs from the start (for tests and debugging).
 */
export type LoraInitialization = 'kaiming' | 'gaussian' | 'random';

export interface LoraOptions {
  /** Rank r (default 8, PEFT's default). */
  r?: number;
  /** lora_alpha (default 16). The delta is scaled by alpha / r, or alpha / √r with rsLoRA. */
  alpha?: number;
  /** Dropout on the adapter's input while training (default 0). */
  dropout?: number;
  /** Required: which linear modules to adapt. */
  targetModules?: TargetModules;
  /** Rank-stabilised LoRA (Kalajdzievski 2023): scaling alpha / √r (default false). */
  useRslora?: boolean;
  /** Default 'kaiming' (PEFT's default). */
  initialization?: LoraInitialization;
  /** Default 'default' (PEFT's adapter name). */
  adapterName?: string;
  /** Seed of the initialisation and of the dropout masks (default 0). */
  seed?: number;
}

export interface LoraConfig {
  readonly r: number;
  readonly alpha: number;
  readonly dropout: number;
  readonly targetModules: TargetModules;
  readonly useRslora: boolean;
  readonly initialization: LoraInitialization;
  readonly adapterName: string;
  readonly seed: number;
  /** alpha / r, or alpha / √r with rsLoRA (PEFT `LoraLayer.update_layer`). */
  readonly scaling: number;
}

const INITIALIZATIONS: readonly LoraInitialization[] = ['kaiming', 'gaussian', 'random'];

/** alpha / r, or alpha / √r for rsLoRA. */
export function loraScaling(r: number, alpha: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

export function resolveLoraConfig(options: LoraOptions, where = 'applyLora'): LoraConfig {
  const problems: string[] = [];
  const r = options.r ?? 8;
  const alpha = options.alpha ?? 16;
  const dropout = options.dropout ?? 0;
  const useRslora = options.useRslora ?? false;
  const initialization = options.initialization ?? 'kaiming';
  const adapterName = options.adapterName ?? 'default';
  const seed = options.seed ?? 0;
  const targetModules = options.targetModules;
  if (!Number.isInteger(r) || r <= 0) problems.push(`r must be a positive integer, got ${r}`);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) problems.push(`alpha must be a finite number, got ${alpha}`);
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) problems.push(`dropout must be in [0, 1), got ${dropout}`);
  if (typeof useRslora !== 'boolean') problems.push(`useRslora must be a boolean, got ${String(useRslora)}`);
  if (!INITIALIZATIONS.includes(initialization)) {
    problems.push(`initialization must be one of ${INITIALIZATIONS.join(', ')}, got ${String(initialization)}`);
  }
  if (typeof adapterName !== 'string' || !/^[A-Za-z0-9_-]+$/.test(adapterName)) {
    problems.push(`adapterName must be a non-empty string of letters, digits, '_' or '-', got ${JSON.stringify(adapterName)}`);
  }
  if (!Number.isInteger(seed)) problems.push(`seed must be an integer, got ${seed}`);
  let target: TargetModules = [];
  if (targetModules === undefined) problems.push("targetModules is required (a list of module names or suffixes, a RegExp, or 'all-linear')");
  else if (targetModules === 'all-linear' || targetModules instanceof RegExp) target = targetModules;
  else if (Array.isArray(targetModules)) {
    if (targetModules.length === 0) problems.push('targetModules is an empty list');
    const bad = targetModules.filter((entry) => typeof entry !== 'string' || entry.length === 0);
    if (bad.length > 0) problems.push(`targetModules entries must be non-empty strings, got ${JSON.stringify(bad)}`);
    target = Object.freeze([...new Set(targetModules as string[])]);
  } else problems.push(`targetModules must be a list of strings, a RegExp or 'all-linear', got ${JSON.stringify(targetModules)}`);
  if (problems.length > 0) throw new ConfigError(where, problems);
  return Object.freeze({ r, alpha, dropout, targetModules: target, useRslora, initialization, adapterName, seed, scaling: loraScaling(r, alpha, useRslora) });
}
