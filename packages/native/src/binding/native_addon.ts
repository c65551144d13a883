// Loads the compiled OpenBLAS addon (packages/native/build/Release/rlhfjs_native.node) once, if it was built.
import * as path from 'path';

/** The functions of the C++ addon (native/addon.cc); each validates buffer lengths and throws on misuse. */
export interface NativeAddon {
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, m: number, n: number, k: number,
    transposeA: boolean, transposeB: boolean, aOffsets: Float64Array, bOffsets: Float64Array): void;
  biasActivation(c: Float32Array, rows: number, n: number, bias: Float32Array | null, activation: number,
    alpha: number): void;
  binary(op: number, a: Float32Array, aStrides: Float64Array, b: Float32Array, bStrides: Float64Array,
    out: Float32Array, outShape: Float64Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, reduce: number, inner: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  transpose(x: Float32Array, out: Float32Array, xShape: Float64Array, perm: Int32Array): void;
  gather(x: Float32Array, indices: Int32Array, out: Float32Array, outer: number, indexCount: number, inner: number,
    axisSize: number): number;
  unsortedSegmentSum(x: Float32Array, segmentIds: Int32Array, out: Float32Array, rows: number, inner: number,
    numSegments: number): void;
  copy2d(src: Float32Array, srcOffset: number, srcStride: number, dst: Float32Array, dstOffset: number,
    dstStride: number, rows: number, rowLength: number): void;
  slice(x: Float32Array, out: Float32Array, xShape: Float64Array, begin: Float64Array, size: Float64Array): void;
  select(condition: Uint8Array, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** Fused GPT-2 decode block (native/decode.cc); weights in the order of decode_kernels.ts. */
  gpt2DecodeBlock(x: Float32Array, weights: Float32Array[], keyCache: Float32Array, valueCache: Float32Array, bias: Float32Array,
    out: Float32Array, batch: number, hidden: number, inner: number, heads: number, capacity: number, position: number, epsilon: number): void;
  /** A whole GPT-2 decode step with the tied LM head (native/decode.cc); blockWeights holds 12 per layer. */
  gpt2DecodeStep(ids: Int32Array, positions: Int32Array, wte: Float32Array, wpe: Float32Array, blockWeights: Float32Array[], keyCaches: Float32Array[],
    valueCaches: Float32Array[], bias: Float32Array, finalWeight: Float32Array, finalBias: Float32Array, hiddenOut: Float32Array, logitsOut: Float32Array,
    batch: number, hidden: number, inner: number, heads: number, capacity: number, position: number, vocab: number, maxPositions: number, epsilon: number): void;
  info(): { config: string; corename: string; threads: number; processors: number };
}

/** What `nativeInfo()` reports about the loaded addon. */
export interface NativeInfo {
  readonly available: boolean;
  /** OpenBLAS's build configuration string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64". */
  readonly openblasConfig: string | null;
  /** The CPU kernel family OpenBLAS picked, e.g. "Haswell". */
  readonly openblasCore: string | null;
  /** OpenBLAS worker threads (follows OPENBLAS_NUM_THREADS when set). */
  readonly threads: number | null;
  readonly addonPath: string;
  /** Why the addon could not be loaded, when it could not. */
  readonly loadError: string | null;
}

/** build/ sits two levels above both src/binding/ and dist/binding/. */
export const addonPath = path.resolve(__dirname, '..', '..', 'build', 'Release', 'rlhfjs_native.node');

let loaded: { addon: NativeAddon | null; error: string | null } | null = null;

function load(): { addon: NativeAddon | null; error: string | null } {
  if (loaded === null) {
    try {
      loaded = { addon: require(addonPath) as NativeAddon, error: null };
    } catch (error) {
      loaded = { addon: null, error: error instanceof Error ? error.message : String(error) };
    }
  }
  return loaded;
}

/** The addon, or null when it was not built (then only the pure-JS backends are usable). */
export function loadNativeAddon(): NativeAddon | null {
  return load().addon;
}

/** True when the C++ addon was built and loads on this machine. */
export function isNativeAvailable(): boolean {
  return load().addon !== null;
}

/** OpenBLAS configuration and thread count of the loaded addon, or why it is unavailable. */
export function nativeInfo(): NativeInfo {
  const { addon, error } = load();
  if (addon === null) {
    return { available: false, openblasConfig: null, openblasCore: null, threads: null, addonPath, loadError: error };
  }
  const info = addon.info();
  return {
    available: true, openblasConfig: info.config, openblasCore: info.corename, threads: info.threads, addonPath,
    loadError: null,
  };
}
