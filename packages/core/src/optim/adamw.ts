import * as tf from '@tensorflow/tfjs';

import { CheckpointError, ConfigError, ShapeError } from '../errors/errors';

/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter 2019), written to give the same numbers as
 * `torch.optim.AdamW` (default, non-amsgrad, non-maximize). For each parameter with a gradient, at its step t:
 *
 *   p ← p − lr·wd·p                         (skipped for no-decay parameters)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 *
 * As in torch, each parameter keeps its own step count t, which advances only when that parameter gets a
 * gradient; `stepCount` counts calls of `step`.
 */
export interface AdamWOptions {
  /** Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay; default 0.01 (torch's default). */
  weightDecay?: number;
  /**
   * Parameters that get no weight decay. Default `defaultNoDecay`: biases, normalisation weights, and every
   * parameter of rank ≤ 1. A function that reads only the name is accepted.
   */
  noDecay?: (name: string, shape: readonly number[]) => boolean;
}

export interface AdamWConfig {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly noDecay: (name: string, shape: readonly number[]) => boolean;
}

/** One tensor of optimizer state, in host memory. */
export interface OptimizerStateTensor {
  data: Float32Array;
  shape: number[];
}

/**
 * Optimizer state, as `torch.optim.AdamW.state_dict()` holds it, keyed by parameter name:
 * `<param>.exp_avg`, `<param>.exp_avg_sq` and `<param>.step` (shape [], the parameter's own step count).
 * `step` is the number of `step` calls.
 */
export interface OptimizerState {
  step: number;
  tensors: Map<string, OptimizerStateTensor>;
}

const NORM_NAME = /norm|ln_|layernorm/i;

/** Biases (`*.bias`), normalisation weights (names containing `norm`, `ln_`, `layernorm`) and 1-D parameters. */
export function defaultNoDecay(name: string, shape: readonly number[]): boolean {
  return name.endsWith('.bias') || NORM_NAME.test(name) || shape.length <= 1;
}

export function resolveAdamWConfig(options: AdamWOptions = {}): AdamWConfig {
  const problems: string[] = [];
  const betas = options.betas ?? [0.9, 0.999];
  const eps = options.eps ?? 1e-8;
  const weightDecay = options.weightDecay ?? 0.01;
  const noDecay = options.noDecay ?? defaultNoDecay;

  if (!Array.isArray(betas) || betas.length !== 2) {
    problems.push(`betas must be a pair [beta1, beta2], got ${JSON.stringify(betas)}`);
  } else {
    betas.forEach((beta, index) => {
      if (!(Number.isFinite(beta) && beta >= 0 && beta < 1)) {
        problems.push(`betas[${index}] must be in [0, 1), got ${beta}`);
      }
    });
  }
  if (!(Number.isFinite(eps) && eps > 0)) {
    problems.push(`eps must be a finite number > 0, got ${eps}`);
  }
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) {
    problems.push(`weightDecay must be a finite number >= 0, got ${weightDecay}`);
  }
  if (typeof noDecay !== 'function') {
    problems.push('noDecay must be a function (name, shape) => boolean');
  }
  if (problems.length > 0) {
    throw new ConfigError('resolveAdamWConfig', problems);
  }
  return Object.freeze({
    betas: Object.freeze([betas[0], betas[1]]) as readonly [number, number],
    eps,
    weightDecay,
    noDecay,
  });
}

interface ParameterState {
  step: number;
  exponentialAverage: tf.Variable; // m, shape of the parameter
  exponentialAverageSquared: tf.Variable; // v, shape of the parameter
}

function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, index) => size === b[index]);
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * A backend may register these kernels to run one parameter's update in one pass (@rlhfjs/native does). Inputs
 * { param, grad, m, v }, attrs { decays, decayFactor, beta1, beta2, biasCorrection2Sqrt, epsilon, stepSize }.
 * `RlhfjsAdamW` returns [param', m', v']; `RlhfjsAdamWInPlace` updates the three buffers in place when the backend
 * owns them exclusively and returns a scalar 1, or changes nothing and returns 0.
 */
export const adamWKernelName = 'RlhfjsAdamW';
export const adamWInPlaceKernelName = 'RlhfjsAdamWInPlace';

const EXP_AVG = '.exp_avg';
const EXP_AVG_SQ = '.exp_avg_sq';
const STEP = '.step';

export class AdamW {
  readonly config: AdamWConfig;
  private state = new Map<string, ParameterState>();
  private steps = 0;
  private disposed = false;

  constructor(options: AdamWOptions = {}) {
    this.config = resolveAdamWConfig(options);
  }

  /** Number of completed `step` calls. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * One update of every parameter that has a gradient, in place (`variable.assign`). Gradients are not disposed:
   * the caller owns them. All gradients are checked before any parameter changes.
   */
  step(params: ReadonlyMap<string, tf.Variable>, grads: tf.NamedTensorMap, learningRate: number): void {
    this.assertNotDisposed('step');
    if (!(Number.isFinite(learningRate) && learningRate >= 0)) {
      throw new ConfigError('AdamW.step', [`learningRate must be a finite number >= 0, got ${learningRate}`]);
    }
    const unknown = Object.keys(grads).filter((name) => !params.has(name));
    if (unknown.length > 0) {
      throw new ConfigError(
        'AdamW.step',
        unknown.map((name) => `gradient "${name}" has no parameter of that name`),
      );
    }
    const updates: Array<[string, tf.Variable, tf.Tensor]> = [];
    for (const [name, param] of params) {
      const grad = grads[name];
      if (grad === undefined) {
        continue; // no gradient: the parameter and its state stay as they are (torch skips grad=None)
      }
      if (!shapesEqual(grad.shape, param.shape)) {
        throw new ShapeError(
          `AdamW.step: gradient of "${name}" has shape ${formatShape(grad.shape)}, parameter has ${formatShape(
            param.shape,
          )}`,
        );
      }
      const existing = this.state.get(name);
      if (existing !== undefined && !shapesEqual(existing.exponentialAverage.shape, param.shape)) {
        throw new CheckpointError(
          `AdamW.step: optimizer state of "${name}" has shape ${formatShape(existing.exponentialAverage.shape)}, ` +
            `parameter has ${formatShape(param.shape)}`,
          { code: 'STATE_MISMATCH' },
        );
      }
      updates.push([name, param, grad]);
    }

    const [beta1, beta2] = this.config.betas;
    const { eps, weightDecay } = this.config;
    const fused = tf.getKernel(adamWKernelName, tf.getBackend()) !== undefined;
    const inPlace = fused && tf.getKernel(adamWInPlaceKernelName, tf.getBackend()) !== undefined;
    for (const [name, param, grad] of updates) {
      const state = this.stateFor(name, param);
      state.step += 1;
      const biasCorrection1 = 1 - beta1 ** state.step;
      const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** state.step);
      const stepSize = learningRate / biasCorrection1;
      const decays = weightDecay > 0 && !this.config.noDecay(name, param.shape);
      if (fused && param.dtype === 'float32' && grad.dtype === 'float32') {
        // One kernel reads p, g, m, v once and writes the three results (the same float32 ops as below): in place
        // when the backend owns the buffers, else into new ones that are assigned.
        const inputs = { param, grad, m: state.exponentialAverage, v: state.exponentialAverageSquared };
        const attributes = {
          decays, decayFactor: 1 - learningRate * weightDecay, beta1, beta2, biasCorrection2Sqrt, epsilon: eps, stepSize,
        };
        if (inPlace) {
          const done = tf.engine().runKernel(adamWInPlaceKernelName, inputs, attributes) as tf.Tensor;
          const updatedInPlace = done.dataSync()[0] === 1;
          done.dispose();
          if (updatedInPlace) continue;
        }
        const [updated, m, v] = tf.engine().runKernel(adamWKernelName, inputs, attributes) as tf.Tensor[];
        state.exponentialAverage.assign(m as tf.Tensor);
        state.exponentialAverageSquared.assign(v as tf.Tensor);
        param.assign(updated as tf.Tensor);
        tf.dispose([updated as tf.Tensor, m as tf.Tensor, v as tf.Tensor]);
        continue;
      }
      tf.tidy(() => {
        const decayed = decays ? tf.mul(param, 1 - learningRate * weightDecay) : param;
        const m = tf.add(tf.mul(state.exponentialAverage, beta1), tf.mul(grad, 1 - beta1));
        const v = tf.add(tf.mul(state.exponentialAverageSquared, beta2), tf.mul(tf.square(grad), 1 - beta2));
        const denominator = tf.add(tf.div(tf.sqrt(v), biasCorrection2Sqrt), eps);
        const updated = tf.sub(decayed, tf.mul(tf.div(m, denominator), stepSize));
        state.exponentialAverage.assign(m);
        state.exponentialAverageSquared.assign(v);
        param.assign(updated);
      });
    }
    this.steps += 1;
  }

  /** A host-memory copy of the state (reads the tensors back synchronously). */
  stateDict(): OptimizerState {
    this.assertNotDisposed('stateDict');
    const tensors = new Map<string, OptimizerStateTensor>();
    for (const [name, state] of this.state) {
      const shape = [...state.exponentialAverage.shape];
      // Copies: the cpu backend hands out its own backing array.
      tensors.set(name + EXP_AVG, {
        data: Float32Array.from(state.exponentialAverage.dataSync()),
        shape,
      });
      tensors.set(name + EXP_AVG_SQ, {
        data: Float32Array.from(state.exponentialAverageSquared.dataSync()),
        shape: [...shape],
      });
      tensors.set(name + STEP, {
        data: Float32Array.of(state.step),
        shape: [],
      });
    }
    return { step: this.steps, tensors };
  }

  /**
   * Replace the state with a copy of `state`. Checks that every parameter has both moments with equal shapes
   * matching their data, and, when `params` is given, that every entry names a parameter of the same shape.
   * A missing `<param>.step` defaults to `state.step`. Throws `CheckpointError` and leaves the current state
   * untouched on any problem.
   */
  loadStateDict(state: OptimizerState, params?: ReadonlyMap<string, tf.Variable>): void {
    this.assertNotDisposed('loadStateDict');
    const problems: string[] = [];
    if (!(Number.isInteger(state.step) && state.step >= 0)) {
      problems.push(`step must be an integer >= 0, got ${state.step}`);
    }
    const names = new Set<string>();
    for (const key of state.tensors.keys()) {
      const suffix = [EXP_AVG_SQ, EXP_AVG, STEP].find((candidate) => key.endsWith(candidate));
      if (suffix === undefined) {
        problems.push(`unknown state entry "${key}" (expected <param>${EXP_AVG}, ${EXP_AVG_SQ} or ${STEP})`);
      } else {
        names.add(key.slice(0, -suffix.length));
      }
    }
    for (const [key, tensor] of state.tensors) {
      const size = tensor.shape.reduce((product, dimension) => product * dimension, 1);
      if (!(tensor.data instanceof Float32Array) || tensor.data.length !== size) {
        problems.push(`"${key}" has ${tensor.data?.length} values for shape ${formatShape(tensor.shape)}`);
      }
    }
    for (const name of names) {
      const m = state.tensors.get(name + EXP_AVG);
      const v = state.tensors.get(name + EXP_AVG_SQ);
      const step = state.tensors.get(name + STEP);
      if (m === undefined || v === undefined) {
        problems.push(`"${name}" needs both ${name}${EXP_AVG} and ${name}${EXP_AVG_SQ}`);
        continue;
      }
      if (!shapesEqual(m.shape, v.shape)) {
        problems.push(`"${name}": exp_avg has shape ${formatShape(m.shape)}, exp_avg_sq has ${formatShape(v.shape)}`);
      }
      if (step !== undefined && (step.data.length !== 1 || !Number.isInteger(step.data[0]) || step.data[0]! < 0)) {
        problems.push(`"${name}${STEP}" must hold one integer >= 0`);
      }
      if (params !== undefined) {
        const param = params.get(name);
        if (param === undefined) {
          problems.push(`state for "${name}", which is not a parameter`);
        } else if (!shapesEqual(param.shape, m.shape)) {
          problems.push(
            `"${name}": state has shape ${formatShape(m.shape)}, parameter has ${formatShape(param.shape)}`,
          );
        }
      }
    }
    if (problems.length > 0) {
      throw new CheckpointError(`AdamW.loadStateDict: ${problems.join('; ')}`, {
        code: 'OPTIMIZER_STATE',
      });
    }

    const loaded = new Map<string, ParameterState>();
    for (const name of names) {
      const m = state.tensors.get(name + EXP_AVG)!;
      const v = state.tensors.get(name + EXP_AVG_SQ)!;
      const step = state.tensors.get(name + STEP);
      loaded.set(name, {
        step: step === undefined ? state.step : step.data[0]!,
        exponentialAverage: this.hostVariable(m),
        exponentialAverageSquared: this.hostVariable(v),
      });
    }
    this.disposeState();
    this.state = loaded;
    this.steps = state.step;
  }

  /** Free the state tensors. The optimizer cannot be used afterwards. */
  dispose(): void {
    this.disposeState();
    this.disposed = true;
  }

  private hostVariable(tensor: OptimizerStateTensor): tf.Variable {
    // Copy: the backend may keep the array it is given, and the caller's arrays stay theirs.
    return tf.tidy(() => tf.variable(tf.tensor(tensor.data.slice(), [...tensor.shape], 'float32'), false));
  }

  private stateFor(name: string, param: tf.Variable): ParameterState {
    let state = this.state.get(name);
    if (state === undefined) {
      state = {
        step: 0,
        exponentialAverage: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
        exponentialAverageSquared: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
      };
      this.state.set(name, state);
    }
    return state;
  }

  private disposeState(): void {
    for (const state of this.state.values()) {
      state.exponentialAverage.dispose();
      state.exponentialAverageSquared.dispose();
    }
    this.state.clear();
  }

  private assertNotDisposed(where: string): void {
    if (this.disposed) {
      throw new ConfigError(`AdamW.${where}`, ['the optimizer has been disposed']);
    }
  }
}
