/** One logged value of a metric. */
export interface CurvePoint {
  readonly step: number;
  readonly value: number;
}

/** Charts of the report: chart title → series name → points (e.g. `{ loss: { sft: [...], dpo: [...] } }`). */
export type ReportCurves = Readonly<Record<string, Readonly<Record<string, readonly CurvePoint[]>>>>;

/** Held-out scores of one policy: mean gold score and, when a reward model scored it, its mean reward. */
export interface StageScores {
  readonly goldScore: number;
  readonly rewardModelScore?: number | null;
}

/** What `summary.json` holds; extra fields are written through unchanged. */
export interface ReportSummary {
  readonly run: string;
  readonly sft: StageScores;
  readonly ppo: StageScores & { readonly kl: number };
  /** GRPO with the gold scorer as a verifiable reward (absent in runs without that stage). */
  readonly grpo?: StageScores & { readonly kl: number };
  readonly dpo: StageScores;
  readonly rewardModel: { readonly heldoutAccuracy: number };
  /** Share of flipped preference labels in the training data. */
  readonly labelNoise: number;
  /** Wall-clock seconds of the whole run. */
  readonly seconds: number;
  readonly [extra: string]: unknown;
}

/** Generations for one held-out prompt, by stage ("before" = the SFT policy, then "ppo", "dpo", ...). */
export interface ReportSample {
  readonly prompt: string;
  readonly generations: readonly {
    readonly stage: string;
    readonly text: string;
    readonly goldScore?: number;
    readonly rewardModelScore?: number;
  }[];
}

/** The charts every report shows, in this order, even when a run logged nothing for one of them. */
export const STANDARD_CHARTS: readonly string[] = Object.freeze(['loss', 'reward', 'kl', 'accuracy']);
