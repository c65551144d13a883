// Native kernels of core's fused custom ops. Core calls them by name when the active backend registers them
// (core's ops/target_log_probs.ts); the names and the input/attribute contract are shared with it.
import * as tf from '@tensorflow/tfjs';

import type { NativeBackend } from '../backend/native_backend';
import { floatValues, intValues, type NativeKernelArgs } from './kernel_utils';

/** Same strings as core's `targetLogProbsKernelName` / `targetLogProbsGradKernelName`. */
export const targetLogProbsKernelName = 'RlhfjsTargetLogProbs';
export const targetLogProbsGradKernelName = 'RlhfjsTargetLogProbsGrad';

/** A kernel that exists only under `native` (no cpu kernel to fall back to). */
export interface FusedKernel {
  readonly kernelName: string;
  readonly run: (args: NativeKernelArgs) => tf.TensorInfo | tf.TensorInfo[];
}

function required<T>(value: T | null, kernelName: string, name: string): T {
  if (value === null) throw new TypeError(`@rlhfjs/native ${kernelName}: ${name} must be a float32/int32 tensor as core's op passes it`);
  return value;
}

function rowsAndVocab(logits: tf.TensorInfo | undefined, kernelName: string): [number, number] {
  if (logits === undefined || logits.shape.length !== 2) {
    throw new TypeError(`@rlhfjs/native ${kernelName}: logits must be [rows, vocab], got [${logits?.shape ?? ''}]`);
  }
  return [logits.shape[0] as number, logits.shape[1] as number];
}

/** { logits [R, V], targets [R] int32 }, { temperature } → [logProbs [R], logSumExp [R]] */
const targetLogProbsKernel: FusedKernel = {
  kernelName: targetLogProbsKernelName,
  run: ({ inputs, backend, attrs }) => {
    const [rows, vocab] = rowsAndVocab(inputs['logits'], targetLogProbsKernelName);
    const logits = required(floatValues(backend, inputs['logits']), targetLogProbsKernelName, 'logits');
    const targets = required(intValues(backend, inputs['targets']), targetLogProbsKernelName, 'targets');
    const out = new Float32Array(rows);
    const logSumExp = new Float32Array(rows);
    backend.addon.targetLogProbs(logits, targets, out, logSumExp, rows, vocab, attrs['temperature'] as number);
    return [backend.makeTensorInfo([rows], 'float32', out), backend.makeTensorInfo([rows], 'float32', logSumExp)];
  },
};

/** { logits [R, V], targets [R], logSumExp [R], dy [R] }, { temperature } → dLogits [R, V] */
const targetLogProbsGradKernel: FusedKernel = {
  kernelName: targetLogProbsGradKernelName,
  run: ({ inputs, backend, attrs }) => {
    const [rows, vocab] = rowsAndVocab(inputs['logits'], targetLogProbsGradKernelName);
    const name = targetLogProbsGradKernelName;
    const logits = required(floatValues(backend, inputs['logits']), name, 'logits');
    const targets = required(intValues(backend, inputs['targets']), name, 'targets');
    const logSumExp = required(floatValues(backend, inputs['logSumExp']), name, 'logSumExp');
    const dy = required(floatValues(backend, inputs['dy']), name, 'dy');
    const grad = backend.allocate(rows * vocab);
    backend.addon.targetLogProbsGrad(logits, targets, logSumExp, dy, grad, rows, vocab, attrs['temperature'] as number);
    return backend.makeOwnedTensorInfo([rows, vocab], grad);
  },
};

/** An elementwise fused kernel: named float32 inputs of one shape → outputs of that shape. */
function elementwiseKernel(kernelName: string, op: string, inputNames: readonly string[], outputs: number): FusedKernel {
  return {
    kernelName,
    run: ({ inputs, backend }) => {
      const first = inputs[inputNames[0] as string];
      const arrays = inputNames.map((name) => {
        const input = inputs[name];
        if (input === undefined || first === undefined || !tf.util.arraysEqual(input.shape, first.shape)) {
          throw new TypeError(`@rlhfjs/native ${kernelName}: ${name} must have the shape of ${inputNames[0]} [${first?.shape ?? ''}]`);
        }
        return required(floatValues(backend, input), kernelName, name);
      });
      const shape = (first as tf.TensorInfo).shape.slice();
      const results = Array.from({ length: outputs }, () => backend.allocate((arrays[0] as Float32Array).length));
      backend.addon.fusedElementwise(op, arrays, results);
      const infos = results.map((values) => backend.makeOwnedTensorInfo(shape, values));
      return infos.length === 1 ? infos[0] as tf.TensorInfo : infos;
    },
  };
}

/** Same string as core's optim/adamw.ts `adamWKernelName`. */
export const adamWKernelName = 'RlhfjsAdamW';

/**
 * { param, grad, m, v } (one shape), attrs { decays, decayFactor, beta1, beta2, biasCorrection2Sqrt, epsilon,
 * stepSize } → [param', m', v'] in new (pooled) buffers; core assigns them to the variables.
 */
const adamWKernel: FusedKernel = {
  kernelName: adamWKernelName,
  run: ({ inputs, backend, attrs }) => {
    const names = ['param', 'grad', 'm', 'v'] as const;
    const shape = inputs['param']?.shape ?? [];
    const arrays = names.map((name) => {
      const input = inputs[name];
      if (input === undefined || !tf.util.arraysEqual(input.shape, shape)) {
        throw new TypeError(`@rlhfjs/native ${adamWKernelName}: ${name} must have the parameter's shape [${shape}]`);
      }
      return required(floatValues(backend, input), adamWKernelName, name);
    });
    const size = (arrays[0] as Float32Array).length;
    const outputs = [backend.allocate(size), backend.allocate(size), backend.allocate(size)] as const;
    const number = (name: string): number => attrs[name] as number;
    const beta1 = number('beta1');
    const beta2 = number('beta2');
    backend.addon.adamW(arrays[0] as Float32Array, arrays[1] as Float32Array, arrays[2] as Float32Array,
      arrays[3] as Float32Array, outputs[0], outputs[1], outputs[2], Float64Array.from([
        attrs['decays'] === true ? 1 : 0, number('decayFactor'), beta1, 1 - beta1, beta2, 1 - beta2,
        number('biasCorrection2Sqrt'), number('epsilon'), number('stepSize'),
      ]));
    return outputs.map((values) => backend.makeOwnedTensorInfo(shape.slice(), values));
  },
};

/** Same string as core's optim/adamw.ts `adamWInPlaceKernelName`. */
export const adamWInPlaceKernelName = 'RlhfjsAdamWInPlace';

/**
 * The same update written into the parameter's and moments' own buffers when the backend owns them exclusively
 * (`NativeBackend.exclusiveBuffer`): no allocation, no page faults. Returns a scalar: 1 when it updated them, 0
 * when it declined and changed nothing (then core runs `RlhfjsAdamW` and assigns).
 */
const adamWInPlaceKernel: FusedKernel = {
  kernelName: adamWInPlaceKernelName,
  run: ({ inputs, backend, attrs }) => {
    const { param, grad, m, v } = inputs;
    const declined = (): tf.TensorInfo => backend.makeTensorInfo([], 'float32', new Float32Array([0]));
    if (param === undefined || grad === undefined || m === undefined || v === undefined) return declined();
    const buffers = [param, m, v].map((tensor) => backend.exclusiveBuffer(tensor.dataId));
    const gradient = floatValues(backend, grad);
    const [p, mValues, vValues] = buffers;
    if (p == null || mValues == null || vValues == null || gradient === null || p.length !== gradient.length ||
      mValues.length !== p.length || vValues.length !== p.length || new Set(buffers.map((b) => b?.buffer)).size !== 3 ||
      [p, mValues, vValues].some((buffer) => buffer.buffer === gradient.buffer)) {
      return declined();
    }
    const number = (name: string): number => attrs[name] as number;
    const beta1 = number('beta1');
    const beta2 = number('beta2');
    backend.addon.adamW(p, gradient, mValues, vValues, p, mValues, vValues, Float64Array.from([
      attrs['decays'] === true ? 1 : 0, number('decayFactor'), beta1, 1 - beta1, beta2, 1 - beta2,
      number('biasCorrection2Sqrt'), number('epsilon'), number('stepSize'),
    ]));
    return backend.makeTensorInfo([], 'float32', new Float32Array([1]));
  },
};

/** Same strings as core's ops/fused_norm.ts. */
export const normKernelName = 'RlhfjsNorm';
export const normGradKernelName = 'RlhfjsNormGrad';

function normShape(x: tf.TensorInfo | undefined, weight: tf.TensorInfo | undefined, kernelName: string): [number, number] {
  const [rows, width] = rowsAndVocab(x, kernelName);
  if (weight === undefined || weight.shape.length !== 1 || weight.shape[0] !== width) {
    throw new TypeError(`@rlhfjs/native ${kernelName}: weight must be [${width}], got [${weight?.shape ?? ''}]`);
  }
  return [rows, width];
}

/** { x [N, D], weight [D], bias? [D] }, { epsilon, rms } → [y [N, D], mean [N], rstd [N]] */
const normKernel: FusedKernel = {
  kernelName: normKernelName,
  run: ({ inputs, backend, attrs }) => {
    const [rows, width] = normShape(inputs['x'], inputs['weight'], normKernelName);
    const x = required(floatValues(backend, inputs['x']), normKernelName, 'x');
    const weight = required(floatValues(backend, inputs['weight']), normKernelName, 'weight');
    const rms = attrs['rms'] === true;
    const bias = rms ? null : required(floatValues(backend, inputs['bias']), normKernelName, 'bias');
    const y = backend.allocate(rows * width);
    const mean = backend.allocate(rows);
    const rstd = backend.allocate(rows);
    backend.addon.norm(x, weight, bias, y, mean, rstd, rows, width, attrs['epsilon'] as number, rms);
    return [backend.makeOwnedTensorInfo([rows, width], y), backend.makeOwnedTensorInfo([rows], mean),
      backend.makeOwnedTensorInfo([rows], rstd)];
  },
};

/** { x, weight, mean, rstd, dy }, { rms } → [dx [N, D], dWeight [D], dBias [D]] */
const normGradKernel: FusedKernel = {
  kernelName: normGradKernelName,
  run: ({ inputs, backend, attrs }) => {
    const name = normGradKernelName;
    const [rows, width] = normShape(inputs['x'], inputs['weight'], name);
    const arrays = (['x', 'weight', 'mean', 'rstd', 'dy'] as const).map((input) => required(floatValues(backend, inputs[input]), name, input));
    const dx = backend.allocate(rows * width);
    const dWeight = backend.allocate(width);
    const dBias = backend.allocate(width);
    const [x, weight, mean, rstd, dy] = arrays as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    backend.addon.normGrad(x, weight, mean, rstd, dy, dx, dWeight, dBias, rows, width, attrs['rms'] === true);
    return [backend.makeOwnedTensorInfo([rows, width], dx), backend.makeOwnedTensorInfo([width], dWeight),
      backend.makeOwnedTensorInfo([width], dBias)];
  },
};

/** Same string as core's model/rope.ts `ropeKernelName`. */
export const ropeKernelName = 'RlhfjsRope';

/** { x [B, H, T, d], cos [B, 1, T, d], sin [B, 1, T, d] }, { inverse } → [B, H, T, d] */
const ropeKernel: FusedKernel = {
  kernelName: ropeKernelName,
  run: ({ inputs, backend, attrs }) => {
    const { x, cos, sin } = inputs;
    if (x === undefined || cos === undefined || sin === undefined || x.shape.length !== 4) {
      throw new TypeError(`@rlhfjs/native ${ropeKernelName}: x must be [B, H, T, d] with cos and sin`);
    }
    const [batch, heads, length, width] = x.shape as [number, number, number, number];
    for (const table of [cos, sin]) {
      if (!tf.util.arraysEqual(table.shape, [batch, 1, length, width])) {
        throw new TypeError(`@rlhfjs/native ${ropeKernelName}: tables must be [${batch}, 1, ${length}, ${width}], got [${table.shape}]`);
      }
    }
    const out = backend.allocate(batch * heads * length * width);
    backend.addon.rope(required(floatValues(backend, x), ropeKernelName, 'x'), required(floatValues(backend, cos), ropeKernelName, 'cos'),
      required(floatValues(backend, sin), ropeKernelName, 'sin'), out, batch, heads, length, width, attrs['inverse'] === true);
    return backend.makeOwnedTensorInfo([batch, heads, length, width], out);
  },
};

/** Same strings as core's ops/fused_activations.ts. */
export const geluNewKernelName = 'RlhfjsGeluNew';
export const siluMulKernelName = 'RlhfjsSiluMul';

export const fusedKernels: readonly FusedKernel[] = [
  adamWKernel,
  adamWInPlaceKernel,
  normKernel,
  normGradKernel,
  ropeKernel,
  targetLogProbsKernel,
  targetLogProbsGradKernel,
  elementwiseKernel(geluNewKernelName, 'geluNew', ['x'], 1),
  elementwiseKernel(`${geluNewKernelName}Grad`, 'geluNewGrad', ['x', 'dy'], 1),
  elementwiseKernel(siluMulKernelName, 'siluMul', ['gate', 'up'], 1),
  elementwiseKernel(`${siluMulKernelName}Grad`, 'siluMulGrad', ['gate', 'up', 'dy'], 2),
];
