import * as tf from '@tensorflow/tfjs';
import { TrainingError } from '../errors/errors';
import type { AdamW } from '../optim/adamw';
import { GradientAccumulator } from '../optim/gradient_accumulator';
import { clipGradNorm } from './clip_grad_norm';
import { variableGradsReleasing } from './releasing_grads';
import { IdentityReducer, type GradientReducer } from './reducer';

/** One micro-batch's loss (already normalised by `aggregateLoss`) and metrics to log. */
export interface LossResult {
  loss: tf.Scalar;
  metrics?: Record<string, tf.Scalar | number>;
}

export type LossFn = () => LossResult;

export interface TrainStepOptions {
  /** One loss function per micro-batch; their gradients are summed (gradient accumulation). */
  lossFns: readonly LossFn[];
  /** The variables to update (e.g. `model.trainableParameters()`). */
  parameters: ReadonlyMap<string, tf.Variable>;
  optimizer: AdamW;
  learningRate: number;
  /** All-reduce of gradients across ranks; identity when omitted. */
  reducer?: GradientReducer;
  /** Clip the global gradient norm to this (null: no clipping, the norm is still reported). */
  maxGradNorm?: number | null;
  /** What a NaN/infinite loss or gradient norm does: throw (default) or skip the update. */
  onNonFinite?: 'error' | 'skip';
  /** For messages only. */
  step?: number;
}

export interface TrainStepMetrics {
  /** Sum of the micro-batch losses (each is already its share of the step's mean). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  learningRate: number;
  /** True when the update was skipped because of a non-finite loss or gradient. */
  skipped: boolean;
  /** Other metrics, averaged over micro-batches. */
  metrics: Record<string, number>;
}

/**
 * The shared training step (DESIGN.md): gradients of every micro-batch, summed → `reducer.allReduceGradients`
 * (averaged over ranks) → clip by global norm → optimizer update → dispose. Returns plain numbers.
 */
export async function trainStep(options: TrainStepOptions): Promise<TrainStepMetrics> {
  const reducer = options.reducer ?? new IdentityReducer();
  const variables = [...options.parameters.values()];
  const nameOf = new Map<tf.Variable, string>([...options.parameters].map(([name, variable]) => [variable, name]));
  const accumulator = new GradientAccumulator();
  let loss = 0;
  const metricSums: Record<string, number> = {};
  try {
    for (const lossFn of options.lossFns) {
      let metricTensors: Record<string, tf.Scalar | number> = {};
      const { value, grads } = variableGradsReleasing(() => {
        const result = lossFn();
        metricTensors = result.metrics ?? {};
        for (const metric of Object.values(metricTensors)) if (typeof metric !== 'number') tf.keep(metric);
        return result.loss;
      }, variables);
      loss += (await value.data())[0] as number;
      value.dispose();
      for (const [key, metric] of Object.entries(metricTensors)) {
        const number = typeof metric === 'number' ? metric : ((await metric.data())[0] as number);
        if (typeof metric !== 'number') metric.dispose();
        metricSums[key] = (metricSums[key] ?? 0) + number;
      }
      // variableGrads keys gradients by tfjs variable name; rename to parameter names
      const named: tf.NamedTensorMap = {};
      for (const variable of variables) {
        const gradient = grads[variable.name];
        if (gradient !== undefined) named[nameOf.get(variable) as string] = gradient;
      }
      accumulator.add(named);
      tf.dispose(Object.values(grads));
    }
    const metrics = Object.fromEntries(Object.entries(metricSums).map(([key, sum]) => [key, sum / options.lossFns.length]));
    const summed = accumulator.take();
    const reduced = await reducer.allReduceGradients(summed);
    if (reduced !== summed) tf.dispose(Object.values(summed));
    const maxNorm = options.maxGradNorm ?? null;
    const clipped = clipGradNorm(reduced, maxNorm ?? Number.MAX_VALUE);
    try {
      if (!Number.isFinite(loss) || !Number.isFinite(clipped.totalNorm)) {
        if (options.onNonFinite === 'skip') {
          return { loss, gradNorm: clipped.totalNorm, learningRate: options.learningRate, skipped: true, metrics };
        }
        throw new TrainingError(
          'NON_FINITE_LOSS',
          `trainStep: ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(loss) ? clipped.totalNorm : loss}${options.step === undefined ? '' : ` at step ${options.step}`}; lower the learning rate, check the data, or set onNonFinite: 'skip'`,
          { step: options.step },
        );
      }
      options.optimizer.step(options.parameters, clipped.grads, options.learningRate);
      return { loss, gradNorm: clipped.totalNorm, learningRate: options.learningRate, skipped: false, metrics };
    } finally {
      if (clipped.grads !== reduced) tf.dispose(Object.values(clipped.grads));
      tf.dispose(Object.values(reduced));
    }
  } finally {
    accumulator.dispose();
  }
}
