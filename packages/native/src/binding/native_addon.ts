// Loads the compiled OpenBLAS addon (packages/native/build/Release/rlhfjs_native.node) once, if it was built.
import * as path from 'path';

import { selectOpenBlasCoreType, type OpenBlasCoreTypeSource } from './openblas_core_type';

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
  targetLogProbs(logits: Float32Array, targets: Int32Array, out: Float32Array, logSumExp: Float32Array, rows: number,
    vocab: number, temperature: number): void;
  targetLogProbsGrad(logits: Float32Array, targets: Int32Array, logSumExp: Float32Array, dy: Float32Array,
    dLogits: Float32Array, rows: number, vocab: number, temperature: number): void;
  /** Fused activations: 'geluNew' [x]→[y], 'geluNewGrad' [x, dy]→[dx], 'siluMul' [gate, up]→[y],
   * 'siluMulGrad' [gate, up, dy]→[dGate, dUp]; every array of one length. */
  fusedElementwise(name: string, inputs: Float32Array[], outputs: Float32Array[]): void;
  /** One AdamW update into new buffers; coefficients: [decays (0/1), 1 − lr·wd, β1, 1 − β1, β2, 1 − β2,
   * √(1 − β2^t), eps, lr / (1 − β1^t)]. */
  adamW(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, paramOut: Float32Array,
    mOut: Float32Array, vOut: Float32Array, coefficients: Float64Array): void;
  norm(x: Float32Array, weight: Float32Array, bias: Float32Array | null, y: Float32Array, mean: Float32Array,
    rstd: Float32Array, rows: number, width: number, epsilon: number, rms: boolean): void;
  normGrad(x: Float32Array, weight: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dWeight: Float32Array, dBias: Float32Array, rows: number, width: number, rms: boolean): void;
  rope(x: Float32Array, cos: Float32Array, sin: Float32Array, out: Float32Array, batch: number, heads: number,
    length: number, width: number, inverse: boolean): void;
  /** Fused GPT-2 decode block (native/decode.cc); weights in the order of decode_kernels.ts. */
  gpt2DecodeBlock(x: Float32Array, weights: Float32Array[], keyCache: Float32Array, valueCache: Float32Array, bias: Float32Array,
    out: Float32Array, batch: number, hidden: number, inner: number, heads: number, capacity: number, position: number, epsilon: number): void;
  /** A whole GPT-2 decode step with the tied LM head (native/decode.cc); blockWeights holds 12 per layer. */
  gpt2DecodeStep(ids: Int32Array, positions: Int32Array, wte: Float32Array, wpe: Float32Array, blockWeights: Float32Array[], keyCaches: Float32Array[],
    valueCaches: Float32Array[], bias: Float32Array, finalWeight: Float32Array, finalBias: Float32Array, hiddenOut: Float32Array, logitsOut: Float32Array,
    batch: number, hidden: number, inner: number, heads: number, capacity: number, position: number, vocab: number, maxPositions: number, epsilon: number): void;
  /**
   * A whole Llama-family decode step (native/llama_decode.cc); layerWeights holds 18 per layer in the order of
   * llamaDecodeLayerWeightNames, null where a layer has no such bias or norm; lmHead null means tied to embed.
   */
  llamaDecodeStep(ids: Int32Array, embed: Float32Array, layerWeights: (Float32Array | null)[], keyCaches: Float32Array[], valueCaches: Float32Array[],
    bias: Float32Array, cos: Float32Array, sin: Float32Array, finalNorm: Float32Array, lmHead: Float32Array | null, hiddenOut: Float32Array,
    logitsOut: Float32Array, batch: number, hidden: number, heads: number, keyValueHeads: number, headDim: number, inner: number, capacity: number,
    position: number, vocab: number, epsilon: number): void;
  info(): { config: string; corename: string; threads: number; processors: number };
}

/** What `nativeInfo()` reports about the loaded addon. */
export interface NativeInfo {
  readonly available: boolean;
  /** OpenBLAS's build configuration string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64". */
  readonly openblasConfig: string | null;
  /** The CPU kernel family OpenBLAS picked, e.g. "Haswell". */
  readonly openblasCore: string | null;
  /** Whether the kernel family came from OPENBLAS_CORETYPE as the user set it, from the CPU's features, or OpenBLAS. */
  readonly openblasCoreSource: OpenBlasCoreTypeSource | null;
  /** OpenBLAS worker threads (follows OPENBLAS_NUM_THREADS when set). */
  readonly threads: number | null;
  readonly addonPath: string;
  /** Why the addon could not be loaded, when it could not. */
  readonly loadError: string | null;
}

/** build/ sits two levels above both src/binding/ and dist/binding/. */
export const addonPath = path.resolve(__dirname, '..', '..', 'build', 'Release', 'rlhfjs_native.node');

interface Loaded {
  addon: NativeAddon | null;
  error: string | null;
  coreSource: OpenBlasCoreTypeSource | null;
}

let loaded: Loaded | null = null;

function load(): Loaded {
  if (loaded === null) {
    // Before the addon loads OpenBLAS: it reads OPENBLAS_CORETYPE only then.
    const coreSource = selectOpenBlasCoreType();
    try {
      loaded = { addon: require(addonPath) as NativeAddon, error: null, coreSource };
    } catch (error) {
      loaded = { addon: null, error: error instanceof Error ? error.message : String(error), coreSource: null };
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
  const { addon, error, coreSource } = load();
  if (addon === null) {
    return {
      available: false, openblasConfig: null, openblasCore: null, openblasCoreSource: null, threads: null, addonPath,
      loadError: error,
    };
  }
  const info = addon.info();
  return {
    available: true, openblasConfig: info.config, openblasCore: info.corename, openblasCoreSource: coreSource,
    threads: info.threads, addonPath, loadError: null,
  };
}
