// The `native` tfjs backend: the cpu backend's storage (plain typed arrays) and kernels, plus a pool that recycles
// the Float32Array outputs of the native kernels once their tensors are disposed.
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../binding/native_addon';
import { BufferPool, minimumPooledLength } from './buffer_pool';

type DataId = object;
type BackendValues = tf.backend_util.BackendValues;

/** Default cap on memory kept for reuse; RLHFJS_NATIVE_POOL_MB overrides it (0 disables pooling). */
export const defaultPoolMegabytes = 1024;

function poolBytesFromEnvironment(): number {
  const text = process.env['RLHFJS_NATIVE_POOL_MB'];
  const megabytes = text === undefined || text === '' ? defaultPoolMegabytes : Number(text);
  return Number.isFinite(megabytes) && megabytes >= 0 ? megabytes * 1024 * 1024 : defaultPoolMegabytes * 1024 * 1024;
}

export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool(poolBytesFromEnvironment());
  /**
   * ArrayBuffers that only this backend's storage references, so they may be recycled when their tensor is
   * disposed. A buffer leaves this set for good when anything else could see it: read by the user
   * (dataSync/data), stored again under another data id, or viewed by a subarray (the cpu Slice kernel).
   */
  private readonly recyclable = new WeakSet<ArrayBufferLike>();

  constructor(readonly addon: NativeAddon) {
    super();
    // The cpu backend prints a "use tfjs-node" hint on first write; it does not apply to this backend.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A float32 output buffer of `length` elements with arbitrary contents; kernels must write all of it. */
  allocate(length: number): Float32Array {
    // Small buffers are not pooled, but are marked as owned too (so kernels may update them in place).
    const buffer = length < minimumPooledLength ? new Float32Array(length) : this.pool.take(length);
    this.recyclable.add(buffer.buffer);
    return buffer;
  }

  /** Stores a buffer from `allocate` as a new float32 tensor, keeping it recyclable. */
  makeOwnedTensorInfo(shape: number[], values: Float32Array): tf.TensorInfo {
    const wasRecyclable = this.recyclable.has(values.buffer);
    const info = super.makeTensorInfo(shape, 'float32', values);
    if (wasRecyclable) this.recyclable.add(values.buffer);
    return info;
  }

  /**
   * The float32 buffer of `dataId` when nothing but this one tensor/variable can observe it (one reference, never
   * read by the user, not a view): a kernel may then update it in place. Null otherwise.
   */
  exclusiveBuffer(dataId: DataId): Float32Array | null {
    if (!this.data.has(dataId)) return null;
    const entry = this.data.get(dataId);
    const values = entry.values;
    if (entry.refCount !== 1 || !(values instanceof Float32Array) || !this.recyclable.has(values.buffer) ||
      values.byteOffset !== 0 || values.byteLength !== values.buffer.byteLength) {
      return null;
    }
    return values;
  }

  private escape(values: unknown): void {
    if (values !== null && typeof values === 'object' && ArrayBuffer.isView(values)) {
      this.recyclable.delete(values.buffer);
    }
  }

  override write(values: BackendValues, shape: number[], dtype: tf.DataType): DataId {
    this.escape(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.escape(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    this.escape(values);
    return values;
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const entry = this.data.has(dataId) ? this.data.get(dataId) : undefined;
    const freed = super.disposeData(dataId, force);
    const values = entry?.values;
    if (freed && values instanceof Float32Array && this.recyclable.has(values.buffer) && values.byteOffset === 0 &&
      values.byteLength === values.buffer.byteLength) {
      this.pool.give(values);
    }
    return freed;
  }

  override dispose(): void {
    this.pool.clear();
    super.dispose();
  }
}
