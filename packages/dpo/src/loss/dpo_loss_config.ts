import { ConfigError } from '@rlhfjs/core';

/**
 * The DPO loss family, as TRL codes it. Source followed: TRL `DPOTrainer.dpo_loss` of the 0.13–0.19 line
 * (`trl/trainer/dpo_trainer.py`; the multi-loss list with `loss_weights` is TRL ≥ 0.17's MPO form), plus:
 * - `sigmoid_norm`: TRL 1.7 (PR #5406): `-logσ(β·((π_c−ref_c)/|y_c| − (π_r−ref_r)/|y_r|))`.
 * - `simpo`: TRL `CPOTrainer.cpo_loss` with `loss_type="simpo"` (Meng et al. 2024), average log-probs,
 *   no reference model: `-logσ(β·(avg_c − avg_r) − γ)` with cDPO label smoothing.
 * - `orpo`: TRL `ORPOTrainer.odds_ratio_loss` (Hong et al. 2024), average log-probs, no reference model:
 *   `NLL_c − λ·logσ(log odds_c − log odds_r)`.
 * See `dpo_loss.ts` for each formula.
 */
export type DpoLossType =
  | 'sigmoid'
  | 'hinge'
  | 'ipo'
  | 'robust'
  | 'exo_pair'
  | 'nca_pair'
  | 'bco_pair'
  | 'sppo_hard'
  | 'aot'
  | 'aot_pair'
  | 'apo_zero'
  | 'apo_down'
  | 'discopop'
  | 'sigmoid_norm'
  | 'simpo'
  | 'orpo';

export const DPO_LOSS_TYPES: readonly DpoLossType[] = Object.freeze([
  'sigmoid',
  'hinge',
  'ipo',
  'robust',
  'exo_pair',
  'nca_pair',
  'bco_pair',
  'sppo_hard',
  'aot',
  'aot_pair',
  'apo_zero',
  'apo_down',
  'discopop',
  'sigmoid_norm',
  'simpo',
  'orpo',
] as const);

/** Loss types that never read the reference model (TRL's CPO/ORPO trainers). */
export const REFERENCE_FREE_DPO_LOSS_TYPES: readonly DpoLossType[] = Object.freeze(['simpo', 'orpo'] as const);

/** Loss types that work on average (length-normalised) log-probs and so need `chosenLengths`/`rejectedLengths`. */
export const LENGTH_NORMALISED_DPO_LOSS_TYPES: readonly DpoLossType[] = Object.freeze([
  'ipo',
  'sigmoid_norm',
  'simpo',
  'orpo',
] as const);

export interface WeightedDpoLossType {
  readonly type: DpoLossType;
  /** Default 1 (TRL: `loss_weights` absent means every weight is 1). */
  readonly weight?: number;
}

export interface DpoLossOptions {
  /** One loss type, or a list combined as `Σ weight_i · losses_i` (TRL's `loss_type` list + `loss_weights`). Default `'sigmoid'`. */
  lossType?: DpoLossType | readonly WeightedDpoLossType[];
  /** Default 0.1 (TRL `DPOConfig.beta`). For `ipo` it is τ of the IPO paper. */
  beta?: number;
  /** cDPO / robust DPO label smoothing ε ∈ [0, 0.5). Default 0. `exo_pair` uses 1e-3 when it is 0, as TRL does. */
  labelSmoothing?: number;
  /** Treat the reference log-probs as 0 (TRL `reference_free`). Default false. */
  referenceFree?: boolean;
  /** SimPO target margin γ (TRL `CPOConfig.simpo_gamma`). Default 0.5. */
  simpoGamma?: number;
  /** Alias of `simpoGamma`; give one or the other. */
  gamma?: number;
  /** RPO: adds `rpoAlpha · chosenNll` to each pair's loss (TRL `rpo_alpha`). Default undefined (off). */
  rpoAlpha?: number;
  /** ORPO λ, the weight of the odds-ratio term (TRL `ORPOConfig.beta`). Default 0.1. */
  orpoLambda?: number;
  /** DiscoPOP temperature τ (TRL `discopop_tau`). Default 0.05. */
  discopopTau?: number;
}

export interface DpoLossConfig {
  readonly terms: readonly Readonly<{ type: DpoLossType; weight: number }>[];
  readonly beta: number;
  readonly labelSmoothing: number;
  readonly referenceFree: boolean;
  readonly simpoGamma: number;
  readonly rpoAlpha: number | undefined;
  readonly orpoLambda: number;
  readonly discopopTau: number;
}

function isDpoLossType(value: unknown): value is DpoLossType {
  return typeof value === 'string' && (DPO_LOSS_TYPES as readonly string[]).includes(value);
}

function unknownTypeProblem(where: string, value: unknown): string {
  return `${where}: unknown loss type ${JSON.stringify(value)}; valid types are ${DPO_LOSS_TYPES.join(', ')}`;
}

/** Resolve and validate DPO loss options once; every problem goes into one `ConfigError`. */
export function resolveDpoLossConfig(options: DpoLossOptions = {}): DpoLossConfig {
  const problems: string[] = [];
  const terms: { type: DpoLossType; weight: number }[] = [];
  const lossType: unknown = options.lossType ?? 'sigmoid';
  if (typeof lossType === 'string') {
    if (isDpoLossType(lossType)) terms.push({ type: lossType, weight: 1 });
    else problems.push(unknownTypeProblem('lossType', lossType));
  } else if (Array.isArray(lossType)) {
    if (lossType.length === 0) problems.push('lossType: the list of loss types is empty');
    lossType.forEach((entry: unknown, index: number) => {
      const term = entry as { type?: unknown; weight?: unknown } | null;
      const type = term?.type;
      const weight = term?.weight ?? 1;
      if (!isDpoLossType(type)) problems.push(unknownTypeProblem(`lossType[${index}].type`, type));
      if (typeof weight !== 'number' || !Number.isFinite(weight)) {
        problems.push(`lossType[${index}].weight must be a finite number, got ${String(weight)}`);
      }
      if (isDpoLossType(type) && typeof weight === 'number' && Number.isFinite(weight)) terms.push({ type, weight });
    });
  } else {
    problems.push(`lossType must be a loss type name or a list of {type, weight}, got ${String(lossType)}`);
  }

  const beta = options.beta ?? 0.1;
  if (!(Number.isFinite(beta) && beta > 0)) problems.push(`beta must be a finite number > 0, got ${beta}`);
  const labelSmoothing = options.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) {
    problems.push(`labelSmoothing must be in [0, 0.5), got ${labelSmoothing}`);
  }
  if (options.gamma !== undefined && options.simpoGamma !== undefined && options.gamma !== options.simpoGamma) {
    problems.push(`gamma (${options.gamma}) and simpoGamma (${options.simpoGamma}) are aliases; give one`);
  }
  const simpoGamma = options.simpoGamma ?? options.gamma ?? 0.5;
  if (!Number.isFinite(simpoGamma)) problems.push(`simpoGamma must be finite, got ${simpoGamma}`);
  const rpoAlpha = options.rpoAlpha;
  if (rpoAlpha !== undefined && !(Number.isFinite(rpoAlpha) && rpoAlpha >= 0)) {
    problems.push(`rpoAlpha must be a finite number >= 0, got ${rpoAlpha}`);
  }
  const orpoLambda = options.orpoLambda ?? 0.1;
  if (!(Number.isFinite(orpoLambda) && orpoLambda >= 0)) {
    problems.push(`orpoLambda must be a finite number >= 0, got ${orpoLambda}`);
  }
  const discopopTau = options.discopopTau ?? 0.05;
  if (!(Number.isFinite(discopopTau) && discopopTau > 0)) {
    problems.push(`discopopTau must be a finite number > 0, got ${discopopTau}`);
  }
  if (problems.length > 0) throw new ConfigError('resolveDpoLossConfig', problems);

  return Object.freeze({
    terms: Object.freeze(terms.map((term) => Object.freeze({ ...term }))),
    beta,
    labelSmoothing,
    referenceFree: options.referenceFree ?? false,
    simpoGamma,
    rpoAlpha,
    orpoLambda,
    discopopTau,
  });
}
