// Registers the `native` backend: every cpu kernel under the name `native`, then the C++ kernels on top, each
// falling back to its cpu kernel for inputs it does not handle (non-float32 dtypes, rare layouts).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';

import { loadNativeAddon, nativeInfo } from '../binding/native_addon';
import type { NativeKernel, NativeKernelArgs } from '../kernels/kernel_utils';
import { registerAttentionKernels } from '../kernels/attention_kernels';
import { elementwiseKernels } from '../kernels/elementwise_kernels';
import { registerDecodeKernels } from '../kernels/decode_kernels';
import { registerLlamaDecodeKernels } from '../kernels/llama_decode_kernels';
import { registerKVCacheKernels } from '../kernels/kv_cache_kernels';
import { fusedKernels } from '../kernels/fused_kernels';
import { layoutKernels } from '../kernels/layout_kernels';
import { batchMatMulKernel, fusedMatMulKernel } from '../kernels/matmul_kernels';
import { reductionKernels } from '../kernels/reduction_kernels';
import { NativeBackend } from './native_backend';

export const nativeBackendName = 'native';

/** Below cpu (1) and wasm (2): importing the package never changes which backend tfjs picks by itself. */
const nativeBackendPriority = 0;

/** Names of the kernels implemented in C++ (all other kernels are the cpu backend's). */
export const nativeKernelNames: readonly string[] = [
  batchMatMulKernel, fusedMatMulKernel, ...elementwiseKernels, ...reductionKernels, ...layoutKernels,
  ...fusedKernels,
].map((kernel) => kernel.kernelName);

function overrideKernel(kernel: NativeKernel): void {
  const cpu = tf.getKernel(kernel.kernelName, 'cpu');
  if (cpu === undefined) throw new Error(`@rlhfjs/native: the cpu backend has no kernel ${kernel.kernelName}`);
  const fallback = cpu.kernelFunc;
  tf.unregisterKernel(kernel.kernelName, nativeBackendName);
  tf.registerKernel({
    ...cpu,
    backendName: nativeBackendName,
    kernelFunc: (args) => kernel.run(args as unknown as NativeKernelArgs) ?? fallback(args),
  });
}

/**
 * Registers the backend when the addon loads; returns whether it did. Safe to call more than once.
 * When the addon is missing it prints why once and registers nothing, so `tf.setBackend('native')` fails.
 */
export function registerNativeBackend(): boolean {
  if (tf.findBackendFactory(nativeBackendName) !== null) return true;
  const addon = loadNativeAddon();
  if (addon === null) {
    console.warn(`@rlhfjs/native: the OpenBLAS addon is not built (${nativeInfo().loadError ?? 'unknown reason'}); ` +
      'the "native" backend is not registered. Install libopenblas-dev and run `npm run build:addon -w @rlhfjs/native`.');
    return false;
  }
  tf.registerBackend(nativeBackendName, () => new NativeBackend(addon), nativeBackendPriority);
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(config.kernelName, nativeBackendName) === undefined) {
      tf.registerKernel({ ...config, backendName: nativeBackendName });
    }
  }
  for (const kernel of [batchMatMulKernel, fusedMatMulKernel, ...elementwiseKernels, ...reductionKernels, ...layoutKernels]) {
    overrideKernel(kernel);
  }
  registerKVCacheKernels(nativeBackendName);
  registerAttentionKernels(nativeBackendName);
  for (const kernel of fusedKernels) {
    tf.registerKernel({
      kernelName: kernel.kernelName,
      backendName: nativeBackendName,
      kernelFunc: (args) => kernel.run(args as unknown as NativeKernelArgs),
    });
  }
  registerDecodeKernels(nativeBackendName);
  registerLlamaDecodeKernels(nativeBackendName);
  return true;
}
