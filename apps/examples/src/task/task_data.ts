import { ConfigError, createRng, type Rng } from '@rlhfjs/core';
import { goldScore } from './gold_score';
import { randomInteger } from './random_integer';
import { drawStyle, RESPONSE_STYLES, styledResponse, type ResponseStyle } from './response_styles';
import { TASK_KINDS, TASK_WORDS, taskPrompt, type TaskPrompt } from './task_prompts';

/** TRL's record formats (standard, not conversational). Completions start with a space: the text is `prompt + completion`. */
export interface SftRecord {
  prompt: string;
  completion: string;
}
export interface PreferenceRecord {
  prompt: string;
  chosen: string;
  rejected: string;
}
export interface PromptRecord {
  prompt: string;
}

export type StyleWeights = Readonly<Record<ResponseStyle, number>>;

export interface TaskDataOptions {
  /** Default 0. */
  seed?: number;
  /** Sizes of the splits (defaults: SFT 1500/150, preference 9600/300, prompts 600/150). */
  sftTrain?: number;
  sftHeldout?: number;
  preferenceTrain?: number;
  preferenceHeldout?: number;
  promptTrain?: number;
  promptHeldout?: number;
  /** Share of preference pairs whose labels are flipped, as human disagreement (default 0.1). */
  labelNoise?: number;
  /** Quality mix of the SFT demonstrations (default: 50% ideal, 25% correct but impolite/badly formatted, 25% wrong). */
  sftStyleWeights?: Partial<Record<ResponseStyle, number>>;
  /** Styles the two candidates of a preference pair are drawn from (default: uniform). */
  preferenceStyleWeights?: Partial<Record<ResponseStyle, number>>;
}

export interface TaskDataConfig {
  readonly seed: number;
  readonly sftTrain: number;
  readonly sftHeldout: number;
  readonly preferenceTrain: number;
  readonly preferenceHeldout: number;
  readonly promptTrain: number;
  readonly promptHeldout: number;
  readonly labelNoise: number;
  readonly sftStyleWeights: StyleWeights;
  readonly preferenceStyleWeights: StyleWeights;
}

// Most demonstrators answer correctly but curtly ("The answer is tac."), a quarter are ideal and a fifth are wrong:
// the SFT policy's most likely answer is then correct but impolite (gold 0.5), and the preference data, which
// prefers polite and correct answers, has a clear lesson for PPO and DPO to teach.
export const DEFAULT_SFT_STYLE_WEIGHTS: StyleWeights = Object.freeze({
  ideal: 0.25,
  impolite: 0.4,
  terse: 0.1,
  curt: 0.05,
  wrong_polite: 0.1,
  wrong_terse: 0.1,
});

export const UNIFORM_STYLE_WEIGHTS: StyleWeights = Object.freeze({ ideal: 1, impolite: 1, terse: 1, curt: 1, wrong_polite: 1, wrong_terse: 1 });

function resolveWeights(problems: string[], name: string, given: Partial<Record<ResponseStyle, number>> | undefined, defaults: StyleWeights): StyleWeights {
  const weights = { ...defaults, ...(given ?? {}) };
  for (const key of Object.keys(given ?? {})) {
    if (!(RESPONSE_STYLES as readonly string[]).includes(key)) problems.push(`${name}.${key} is not a response style (${RESPONSE_STYLES.join(', ')})`);
  }
  for (const style of RESPONSE_STYLES) {
    if (!(weights[style] >= 0 && Number.isFinite(weights[style]))) problems.push(`${name}.${style} must be a finite number ≥ 0, got ${weights[style]}`);
  }
  if (!(RESPONSE_STYLES.reduce((sum, style) => sum + weights[style], 0) > 0)) problems.push(`${name} must have a positive total`);
  return Object.freeze(weights);
}

export function resolveTaskDataConfig(options: TaskDataOptions = {}): TaskDataConfig {
  const problems: string[] = [];
  const count = (name: keyof TaskDataOptions, fallback: number): number => {
    const value = (options[name] as number | undefined) ?? fallback;
    if (!Number.isSafeInteger(value) || value < 0) problems.push(`${name} must be a non-negative integer, got ${value}`);
    return value;
  };
  const config: TaskDataConfig = {
    seed: options.seed ?? 0,
    sftTrain: count('sftTrain', 1500),
    sftHeldout: count('sftHeldout', 150),
    preferenceTrain: count('preferenceTrain', 9600),
    preferenceHeldout: count('preferenceHeldout', 300),
    promptTrain: count('promptTrain', 600),
    promptHeldout: count('promptHeldout', 150),
    labelNoise: options.labelNoise ?? 0.1,
    sftStyleWeights: resolveWeights(problems, 'sftStyleWeights', options.sftStyleWeights, DEFAULT_SFT_STYLE_WEIGHTS),
    preferenceStyleWeights: resolveWeights(problems, 'preferenceStyleWeights', options.preferenceStyleWeights, UNIFORM_STYLE_WEIGHTS),
  };
  if (!Number.isSafeInteger(config.seed)) problems.push(`seed must be an integer, got ${config.seed}`);
  if (!(config.labelNoise >= 0 && config.labelNoise < 0.5)) problems.push(`labelNoise must be in [0, 0.5), got ${config.labelNoise}`);
  if (problems.length > 0) throw new ConfigError('resolveTaskDataConfig', problems);
  return Object.freeze(config);
}

/** An independent RNG stream per split, derived from the seed and the split's name (FNV-1a). */
export function streamRng(seed: number, stream: string): Rng {
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  for (const char of stream) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  hash = Math.imul(hash ^ Math.floor(seed / 4294967296), 0x01000193) >>> 0;
  return createRng(hash);
}


/** Draws a prompt: a kind uniformly, then its word uniformly. */
export function drawTaskPrompt(rng: Rng): TaskPrompt {
  const kind = TASK_KINDS[randomInteger(rng, 0, TASK_KINDS.length - 1)];
  if (kind === undefined) throw new ConfigError('drawTaskPrompt', ['internal: no task kinds']);
  return taskPrompt(kind, TASK_WORDS[randomInteger(rng, 0, TASK_WORDS.length - 1)] as string);
}

export function makeSftRecords(count: number, weights: StyleWeights, rng: Rng): SftRecord[] {
  const records: SftRecord[] = [];
  for (let i = 0; i < count; i++) {
    const task = drawTaskPrompt(rng);
    records.push({ prompt: task.prompt, completion: ` ${styledResponse(task, drawStyle(weights, rng), rng)}` });
  }
  return records;
}

export interface PreferenceSet {
  records: PreferenceRecord[];
  /** How many pairs had their gold label flipped. */
  flipped: number;
  /** Candidate pairs drawn but not emitted because both responses had the same gold score. */
  skippedTies: number;
}

/**
 * Preference pairs labelled by the gold scorer: two responses in different styles are drawn for a prompt, pairs
 * with equal gold score are skipped, the better one is `chosen`, and with probability `labelNoise` the labels are
 * swapped (human disagreement). The returned `flipped` counts the swapped pairs exactly.
 */
export function makePreferenceRecords(count: number, weights: StyleWeights, labelNoise: number, rng: Rng): PreferenceSet {
  const records: PreferenceRecord[] = [];
  let flipped = 0;
  let skippedTies = 0;
  while (records.length < count) {
    const task = drawTaskPrompt(rng);
    const first = styledResponse(task, drawStyle(weights, rng), rng);
    const second = styledResponse(task, drawStyle(weights, rng), rng);
    const firstScore = goldScore(task.prompt, first);
    const secondScore = goldScore(task.prompt, second);
    if (firstScore === secondScore) {
      skippedTies++;
      if (skippedTies > 1000 + 100 * count) throw new ConfigError('makePreferenceRecords', ['preferenceStyleWeights give (almost) only ties; allow styles with different gold scores']);
      continue;
    }
    let [chosen, rejected] = firstScore > secondScore ? [first, second] : [second, first];
    if (rng.next() < labelNoise) {
      [chosen, rejected] = [rejected, chosen];
      flipped++;
    }
    records.push({ prompt: task.prompt, chosen: ` ${chosen}`, rejected: ` ${rejected}` });
  }
  return { records, flipped, skippedTies };
}

export function makePromptRecords(count: number, rng: Rng): PromptRecord[] {
  const records: PromptRecord[] = [];
  for (let i = 0; i < count; i++) records.push({ prompt: drawTaskPrompt(rng).prompt });
  return records;
}

export interface TaskDataSummary {
  seed: number;
  counts: Record<string, number>;
  /** Stated flip probability and the share actually flipped, per preference split. */
  labelNoise: { stated: number; observedTrain: number; observedHeldout: number; flippedTrain: number; flippedHeldout: number };
  /** Mean gold score of the SFT demonstrations (what perfect imitation would score). */
  sftDemonstrationGold: number;
  /** Share of held-out prompts whose exact text also occurs in the training prompts (the prompt space is finite). */
  heldoutPromptsSeenInTraining: number;
  sftStyleWeights: StyleWeights;
  preferenceStyleWeights: StyleWeights;
}

export interface TaskData {
  sftTrain: SftRecord[];
  sftHeldout: SftRecord[];
  preferenceTrain: PreferenceRecord[];
  preferenceHeldout: PreferenceRecord[];
  promptTrain: PromptRecord[];
  promptHeldout: PromptRecord[];
  summary: TaskDataSummary;
}

/** Every split of the task data, deterministic given the seed (each split has its own RNG stream). */
export function makeTaskData(options: TaskDataOptions = {}): TaskData {
  const config = resolveTaskDataConfig(options);
  const sftTrain = makeSftRecords(config.sftTrain, config.sftStyleWeights, streamRng(config.seed, 'sft/train'));
  const sftHeldout = makeSftRecords(config.sftHeldout, config.sftStyleWeights, streamRng(config.seed, 'sft/heldout'));
  const preferenceTrain = makePreferenceRecords(config.preferenceTrain, config.preferenceStyleWeights, config.labelNoise, streamRng(config.seed, 'preference/train'));
  const preferenceHeldout = makePreferenceRecords(config.preferenceHeldout, config.preferenceStyleWeights, config.labelNoise, streamRng(config.seed, 'preference/heldout'));
  const promptTrain = makePromptRecords(config.promptTrain, streamRng(config.seed, 'prompts/train'));
  const promptHeldout = makePromptRecords(config.promptHeldout, streamRng(config.seed, 'prompts/heldout'));
  const trainingPrompts = new Set([...sftTrain, ...preferenceTrain.records, ...promptTrain].map((record) => record.prompt));
  const share = (part: number, whole: number): number => (whole === 0 ? 0 : part / whole);
  const demonstrationGold = sftTrain.reduce((sum, record) => sum + goldScore(record.prompt, record.completion), 0);
  const summary: TaskDataSummary = {
    seed: config.seed,
    counts: {
      sftTrain: sftTrain.length,
      sftHeldout: sftHeldout.length,
      preferenceTrain: preferenceTrain.records.length,
      preferenceHeldout: preferenceHeldout.records.length,
      promptTrain: promptTrain.length,
      promptHeldout: promptHeldout.length,
    },
    labelNoise: {
      stated: config.labelNoise,
      observedTrain: share(preferenceTrain.flipped, preferenceTrain.records.length),
      observedHeldout: share(preferenceHeldout.flipped, preferenceHeldout.records.length),
      flippedTrain: preferenceTrain.flipped,
      flippedHeldout: preferenceHeldout.flipped,
    },
    sftDemonstrationGold: share(demonstrationGold, sftTrain.length),
    heldoutPromptsSeenInTraining: share(promptHeldout.filter((record) => trainingPrompts.has(record.prompt)).length, promptHeldout.length),
    sftStyleWeights: config.sftStyleWeights,
    preferenceStyleWeights: config.preferenceStyleWeights,
  };
  return {
    sftTrain,
    sftHeldout,
    preferenceTrain: preferenceTrain.records,
    preferenceHeldout: preferenceHeldout.records,
    promptTrain,
    promptHeldout,
    summary,
  };
}

/** JSON Lines text of records (one object a line, trailing newline). */
export function toJsonl(records: readonly object[]): string {
  return records.map((record) => JSON.stringify(record)).join('\n') + (records.length > 0 ? '\n' : '');
}

/** The file names `make_data.ts` writes, by split. */
export const TASK_DATA_FILES = Object.freeze({
  sftTrain: 'sft_train.jsonl',
  sftHeldout: 'sft_heldout.jsonl',
  preferenceTrain: 'preference_train.jsonl',
  preferenceHeldout: 'preference_heldout.jsonl',
  promptTrain: 'prompts_train.jsonl',
  promptHeldout: 'prompts_heldout.jsonl',
  summary: 'summary.json',
});
