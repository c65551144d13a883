/**
 * Rotary settings of a Hugging Face `config.json`, read the way transformers 5 standardises them
 * (`RotaryEmbeddingConfigMixin.standardize_rope_params` in modeling_rope_utils.py): the `rope_parameters` object
 * (transformers 5) or the older top-level `rope_theta` + `rope_scaling`, with `type` as the legacy name of
 * `rope_type`. Where transformers silently prefers one of two disagreeing values, we refuse instead.
 */

/** The rope types whose inverse frequencies `rope.ts` computes exactly as transformers does. */
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3', 'yarn'] as const;
export type RopeType = (typeof SUPPORTED_ROPE_TYPES)[number];

export type RopeScaling =
  | { readonly type: 'default' }
  /** inv_freq / factor. */
  | { readonly type: 'linear'; readonly factor: number }
  /** NTK-aware base that grows with the sequence length once it passes `originalMaxPositions` (= max_position_embeddings). */
  | { readonly type: 'dynamic'; readonly factor: number; readonly originalMaxPositions: number }
  /** Llama 3.1: low frequencies / factor, high ones kept, a smooth ramp between. */
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositions: number;
    }
  /** YaRN (Peng et al. 2023): ramp between interpolated and extrapolated frequencies, cos/sin scaled by attentionFactor. */
  | {
      readonly type: 'yarn';
      readonly factor: number;
      readonly originalMaxPositions: number;
      readonly attentionFactor: number;
      readonly betaFast: number;
      readonly betaSlow: number;
      readonly truncate: boolean;
    };

export interface RopeConfig {
  readonly theta: number;
  readonly scaling: RopeScaling;
  /** The standardised `rope_parameters` object, as transformers 5 writes it back (`rope_type`, `rope_theta`, ...). */
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** Keys each rope type may carry besides `rope_type`/`type`/`rope_theta` (transformers' `_validate_*_rope_parameters`). */
const ALLOWED_KEYS: Record<RopeType, readonly string[]> = {
  default: [],
  linear: ['factor'],
  dynamic: ['factor'],
  llama3: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'],
  yarn: ['factor', 'original_max_position_embeddings', 'attention_factor', 'beta_fast', 'beta_slow', 'mscale', 'mscale_all_dim', 'truncate'],
};
const COMMON_KEYS = ['rope_type', 'type', 'rope_theta', 'partial_rotary_factor'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export interface RopeContext {
  readonly maxPositions: number;
  readonly headDim: number;
  /** θ when neither `rope_parameters.rope_theta` nor `rope_theta` is given (transformers' `default_theta`). */
  readonly defaultTheta: number;
}

/**
 * Reads the rotary settings of `hf` (a Llama-family config.json). Problems are pushed to `problems`, each naming
 * the key; the returned value is only meaningful when none were added.
 */
export function parseRopeConfig(hf: Readonly<Record<string, unknown>>, context: RopeContext, problems: string[]): RopeConfig {
  const fallback: RopeConfig = { theta: context.defaultTheta, scaling: { type: 'default' }, parameters: { rope_type: 'default', rope_theta: context.defaultTheta } };
  const count = problems.length;
  const parametersValue = hf['rope_parameters'];
  const scalingValue = hf['rope_scaling'];
  for (const [key, value] of [['rope_parameters', parametersValue], ['rope_scaling', scalingValue]] as const) {
    if (value !== undefined && value !== null && !isObject(value)) problems.push(`${key} must be an object or null, got ${JSON.stringify(value)}`);
  }
  if (problems.length > count) return fallback;
  const fromParameters = isObject(parametersValue) ? parametersValue : {};
  const fromScaling = isObject(scalingValue) ? scalingValue : {};
  if (Object.values(fromParameters).some(isObject)) {
    problems.push('rope_parameters holds one object per layer type; per-layer rotary settings are not supported');
    return fallback;
  }
  // transformers 5 lets rope_scaling replace rope_parameters wholesale; a value both give differently is refused.
  const merged: Record<string, unknown> = { ...fromParameters };
  for (const [key, value] of Object.entries(fromScaling)) {
    if (key in fromParameters && JSON.stringify(fromParameters[key]) !== JSON.stringify(value)) {
      problems.push(`rope_scaling.${key} (${JSON.stringify(value)}) contradicts rope_parameters.${key} (${JSON.stringify(fromParameters[key])})`);
    }
    merged[key] = value;
  }
  const nameSource = 'rope_parameters' in hf && !('rope_scaling' in hf && isObject(scalingValue)) ? 'rope_parameters' : 'rope_scaling';
  if ('rope_type' in merged && 'type' in merged && merged['rope_type'] !== merged['type']) {
    problems.push(`${nameSource}.rope_type (${JSON.stringify(merged['rope_type'])}) contradicts ${nameSource}.type (${JSON.stringify(merged['type'])})`);
  }
  const typeValue = merged['rope_type'] ?? merged['type'] ?? 'default';
  if (typeof typeValue !== 'string' || !(SUPPORTED_ROPE_TYPES as readonly string[]).includes(typeValue)) {
    problems.push(`${nameSource}.rope_type ${JSON.stringify(typeValue)} is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(', ')})`);
    return fallback;
  }
  const type = typeValue as RopeType;
  for (const key of Object.keys(merged)) {
    if (!COMMON_KEYS.includes(key) && !ALLOWED_KEYS[type].includes(key)) {
      problems.push(`${nameSource}.${key} is not a setting of rope type "${type}" (allowed: ${ALLOWED_KEYS[type].join(', ') || 'none'})`);
    }
  }
  for (const key of ['partial_rotary_factor']) {
    const value = merged[key] ?? hf[key];
    if (value !== undefined && value !== null && value !== 1) problems.push(`${key} ${JSON.stringify(value)} is not supported (only 1: rotary over the whole head)`);
  }

  const topTheta = hf['rope_theta'];
  const innerTheta = merged['rope_theta'];
  if (innerTheta !== undefined && innerTheta !== null && topTheta !== undefined && topTheta !== null && innerTheta !== topTheta) {
    problems.push(`rope_theta (${JSON.stringify(topTheta)}) contradicts ${nameSource}.rope_theta (${JSON.stringify(innerTheta)})`);
  }
  const thetaValue = innerTheta ?? topTheta ?? context.defaultTheta;
  const thetaKey = innerTheta !== undefined && innerTheta !== null ? `${nameSource}.rope_theta` : 'rope_theta';
  if (!isFiniteNumber(thetaValue) || thetaValue <= 1) problems.push(`${thetaKey} must be a number greater than 1, got ${JSON.stringify(thetaValue)}`);
  const theta = thetaValue as number;

  const number = (key: string, options: { required: boolean; minimum?: number; fallback?: number }): number => {
    const value = merged[key];
    if (value === undefined || value === null) {
      if (options.required) problems.push(`${nameSource}.${key} is required for rope type "${type}"`);
      return options.fallback ?? 1;
    }
    if (!isFiniteNumber(value) || (options.minimum !== undefined && !(value > options.minimum))) {
      problems.push(`${nameSource}.${key} must be a number${options.minimum === undefined ? '' : ` greater than ${options.minimum}`}, got ${JSON.stringify(value)}`);
      return options.fallback ?? 1;
    }
    return value;
  };
  const originalMaxPositions = (): number => {
    const inner = merged['original_max_position_embeddings'];
    const top = hf['original_max_position_embeddings'];
    if (inner !== undefined && inner !== null && top !== undefined && top !== null && inner !== top) {
      problems.push(`original_max_position_embeddings (${JSON.stringify(top)}) contradicts ${nameSource}.original_max_position_embeddings (${JSON.stringify(inner)})`);
    }
    const value = inner ?? top ?? context.maxPositions;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      problems.push(`${nameSource}.original_max_position_embeddings must be a positive integer, got ${JSON.stringify(value)}`);
      return context.maxPositions;
    }
    return value;
  };

  let scaling: RopeScaling;
  const parameters: Record<string, unknown> = { ...merged, rope_type: type, rope_theta: theta };
  delete parameters['type'];
  switch (type) {
    case 'default':
      scaling = { type };
      break;
    case 'linear':
      scaling = { type, factor: number('factor', { required: true, minimum: 0 }) };
      break;
    case 'dynamic':
      if (context.headDim <= 2) problems.push(`head_dim (${context.headDim}) must be greater than 2 for rope type "dynamic"`);
      scaling = { type, factor: number('factor', { required: true, minimum: 0 }), originalMaxPositions: context.maxPositions };
      break;
    case 'llama3': {
      const lowFreqFactor = number('low_freq_factor', { required: true, minimum: 0 });
      const highFreqFactor = number('high_freq_factor', { required: true, minimum: 0, fallback: 2 });
      if (highFreqFactor <= lowFreqFactor) {
        problems.push(`${nameSource}.high_freq_factor (${highFreqFactor}) must be greater than low_freq_factor (${lowFreqFactor})`);
      }
      const original = originalMaxPositions();
      parameters['original_max_position_embeddings'] = original;
      scaling = { type, factor: number('factor', { required: true, minimum: 0 }), lowFreqFactor, highFreqFactor, originalMaxPositions: original };
      break;
    }
    case 'yarn': {
      const original = originalMaxPositions();
      parameters['original_max_position_embeddings'] = original;
      // transformers: a null factor means max_position_embeddings / original_max_position_embeddings.
      const factor = merged['factor'] === null ? context.maxPositions / original : number('factor', { required: true, minimum: 0 });
      const mscale = merged['mscale'] === undefined || merged['mscale'] === null ? null : number('mscale', { required: false });
      const mscaleAllDim = merged['mscale_all_dim'] === undefined || merged['mscale_all_dim'] === null ? null : number('mscale_all_dim', { required: false });
      const scale = (s: number, m = 1): number => (s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1);
      let attentionFactor: number;
      if (merged['attention_factor'] !== undefined && merged['attention_factor'] !== null) attentionFactor = number('attention_factor', { required: false, minimum: 0 });
      else if (mscale !== null && mscale !== 0 && mscaleAllDim !== null && mscaleAllDim !== 0) attentionFactor = scale(factor, mscale) / scale(factor, mscaleAllDim);
      else attentionFactor = scale(factor);
      // `beta_fast or 32`: transformers treats 0 like absent.
      const betaFast = number('beta_fast', { required: false, fallback: 32 }) || 32;
      const betaSlow = number('beta_slow', { required: false, fallback: 1 }) || 1;
      // A negative rotation count puts the log of a negative number into the correction range: NaN logits.
      for (const [key, value] of [['beta_fast', betaFast], ['beta_slow', betaSlow]] as const) {
        if (value < 0) problems.push(`${nameSource}.${key} must not be negative, got ${value}`);
      }
      const truncate = merged['truncate'] ?? true;
      if (typeof truncate !== 'boolean') problems.push(`${nameSource}.truncate must be true or false, got ${JSON.stringify(truncate)}`);
      if (theta === 1) problems.push(`rope_theta must not be 1 for rope type "yarn"`);
      scaling = { type, factor, originalMaxPositions: original, attentionFactor, betaFast, betaSlow, truncate: truncate !== false };
      break;
    }
    default: {
      const unreachable: never = type;
      return unreachable;
    }
  }
  if (problems.length > count) return fallback;
  return Object.freeze({ theta, scaling: Object.freeze(scaling), parameters: Object.freeze(parameters) });
}
