import { CheckpointError, ConfigError } from '@rlhfjs/core';

/** What a PPO trainer needs from a KL coefficient schedule; both controllers below implement it. */
export interface KlController {
  /** The current KL coefficient β. */
  readonly value: number;
  /** Feed the measured KL (mean over the batch, summed over tokens) after `nSteps` samples. */
  update(currentKl: number, nSteps: number): void;
  /** Plain JSON for checkpoints. */
  state(): KlControllerState;
  load(state: KlControllerState): void;
}

export type KlControllerState =
  | { readonly kind: 'fixed'; readonly value: number }
  | { readonly kind: 'adaptive'; readonly value: number; readonly target: number; readonly horizon: number };

export interface AdaptiveKlControllerOptions {
  /** Starting β. */
  initKlCoef: number;
  /** Target KL. */
  target: number;
  /** Horizon in samples (Ziegler et al. used 10000). */
  horizon: number;
}

/**
 * Adaptive KL controller of Ziegler et al. 2019 ("Fine-Tuning Language Models from Human Preferences", §2.2),
 * as TRL's `AdaptiveKLController` and OpenRLHF's code it:
 * `e = clip(KL / target − 1, −0.2, 0.2)`, `β ← β · (1 + e · nSteps / horizon)`.
 */
export class AdaptiveKLController implements KlController {
  private current: number;
  private readonly target: number;
  private readonly horizon: number;

  constructor(options: AdaptiveKlControllerOptions) {
    const problems: string[] = [];
    if (!(Number.isFinite(options.initKlCoef) && options.initKlCoef >= 0)) {
      problems.push(`initKlCoef must be a finite number >= 0, got ${options.initKlCoef}`);
    }
    if (!(Number.isFinite(options.target) && options.target > 0)) problems.push(`target must be > 0, got ${options.target}`);
    if (!(Number.isFinite(options.horizon) && options.horizon > 0)) problems.push(`horizon must be > 0, got ${options.horizon}`);
    if (problems.length > 0) throw new ConfigError('AdaptiveKLController', problems);
    this.current = options.initKlCoef;
    this.target = options.target;
    this.horizon = options.horizon;
  }

  get value(): number {
    return this.current;
  }

  update(currentKl: number, nSteps: number): void {
    const proportionalError = Math.min(Math.max(currentKl / this.target - 1, -0.2), 0.2);
    this.current *= 1 + (proportionalError * nSteps) / this.horizon;
  }

  state(): KlControllerState {
    return { kind: 'adaptive', value: this.current, target: this.target, horizon: this.horizon };
  }

  load(state: KlControllerState): void {
    if (state.kind !== 'adaptive' || state.target !== this.target || state.horizon !== this.horizon) {
      throw new CheckpointError(
        `AdaptiveKLController.load: state ${JSON.stringify(state)} does not match target ${this.target}, horizon ${this.horizon}`,
      );
    }
    this.current = state.value;
  }
}

/** A constant KL coefficient with the controller interface. */
export class FixedKLController implements KlController {
  private readonly current: number;

  constructor(klCoef: number) {
    if (!(Number.isFinite(klCoef) && klCoef >= 0)) {
      throw new ConfigError('FixedKLController', [`klCoef must be a finite number >= 0, got ${klCoef}`]);
    }
    this.current = klCoef;
  }

  get value(): number {
    return this.current;
  }

  update(_currentKl: number, _nSteps: number): void {
    // Fixed: nothing to adapt.
  }

  state(): KlControllerState {
    return { kind: 'fixed', value: this.current };
  }

  load(state: KlControllerState): void {
    if (state.kind !== 'fixed' || state.value !== this.current) {
      throw new CheckpointError(`FixedKLController.load: state ${JSON.stringify(state)} does not match value ${this.current}`);
    }
  }
}
