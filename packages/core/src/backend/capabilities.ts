import * as tf from '@tensorflow/tfjs';

/**
 * What the active backend does fast, read from its registered kernels and from `initBackend()`'s measurements,
 * never from its name. Ops in `../ops` consult it to keep every matmul on the backend's fast path.
 */
export interface BackendCapabilities {
  /** Batched or transposed matmuls run at full speed (false on wasm: only plain rank-2 matmuls are fast). */
  readonly fastBatchedMatMul: boolean;
  /** `UnsortedSegmentSum` is fast (false on the cpu backend, whose kernel loops over every segment; absent on wasm). */
  readonly fastScatter: boolean;
}

const overrides = new Map<string, BackendCapabilities>();

/** Records what `initBackend()` learned about a backend. */
export function setBackendCapabilities(backendName: string, capabilities: BackendCapabilities): void {
  overrides.set(backendName, Object.freeze({ ...capabilities }));
}

/** Capabilities of the backend now active. Unknown backends are assumed to be fast at everything. */
export function backendCapabilities(): BackendCapabilities {
  return overrides.get(tf.getBackend()) ?? { fastBatchedMatMul: true, fastScatter: false };
}

/** Whether the active backend registers a kernel (used to route around kernels a backend lacks). */
export function hasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
