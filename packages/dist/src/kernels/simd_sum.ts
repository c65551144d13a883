import { simdModuleBytes, WASM_PAGE_BYTES } from './wasm_module';

/** Float32Array or Float64Array (the element types collectives reduce). */
type FloatArray = Float32Array | Float64Array;

/** Elements are combined through WebAssembly memory in blocks of at most this many bytes (stays in L1/L2 beside the landing area). */
const BLOCK_BYTES = 64 * 1024;
/** Size of every instance's landing area (a socket read of up to 1 MiB plus a split Float64). */
export const SIMD_LANDING_BYTES = 1024 * 1024 + 16;
/** Memory layout: [target block | landing | incoming block | (an allocated array, page-aligned)]. */
const LANDING_OFFSET = BLOCK_BYTES;
const SOURCE_OFFSET = LANDING_OFFSET + SIMD_LANDING_BYTES;
const MEMORY_PAGES = Math.ceil((SOURCE_OFFSET + BLOCK_BYTES) / WASM_PAGE_BYTES);
/** WebAssembly (32-bit) memories end at 4 GiB; V8 allows that much. */
const MAX_MEMORY_PAGES = 65536;
/** Below this many elements the scalar JS loop is cheaper than two copies and a call. */
const MIN_ELEMENTS = 64;
const VECTOR_BYTES = 16;

/** The slice of the WebAssembly API used here (the package compiles without the DOM typings that declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
}

const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly addF32: (dst: number, src: number, bytes: number) => void;
  readonly addF64: (dst: number, src: number, bytes: number) => void;
  readonly divF32: (dst: number, bytes: number, divisor: number) => void;
  readonly divF64: (dst: number, bytes: number, divisor: number) => void;
}

let compiled: object | null | undefined;

/** The compiled module, or null where this runtime has no WebAssembly SIMD (or RLHFJS_DIST_SIMD=0 turns it off). */
function simdModule(): object | null {
  if (compiled !== undefined) return compiled;
  const bytes = simdModuleBytes(MEMORY_PAGES);
  compiled = process.env.RLHFJS_DIST_SIMD !== '0' && wasm !== undefined && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  return compiled;
}

/** A module whose memory also holds `extraPages` for an allocated array (null: no SIMD, or too large). */
function moduleWithRoomFor(extraPages: number): object | null {
  if (simdModule() === null || wasm === undefined || MEMORY_PAGES + extraPages > MAX_MEMORY_PAGES) return null;
  return extraPages === 0 ? simdModule() : new wasm.Module(simdModuleBytes(MEMORY_PAGES + extraPages));
}

/** Instances by the ArrayBuffer of their memory: an incoming view over one is combined without a copy. */
const owners = new WeakMap<ArrayBufferLike, SimdSum>();

/**
 * Element-wise sums and divisions of float arrays with WebAssembly 128-bit SIMD: the part of a ring all-reduce
 * that JS's scalar loop made the bottleneck (~2 ns per float against a fraction of that here). WebAssembly only
 * reaches its own memory, so a block of the target is copied in, combined, and copied back (two memcpys, in
 * cache); the incoming operand is read in place when it already lives in an instance's memory — which is what
 * `landing` is for: a socket's reads can land there, so received chunks are summed without a copy of their own.
 * Each instance has its own fixed memory (never grown, so views of it stay valid). Bits equal JS's scalar loop.
 * An array made by `allocate` lives in its instance's memory, beside that instance's landing area: its sums need
 * no copies at all (the target is summed in place).
 */
export class SimdSum {
  /** A view of this instance's memory for incoming data (e.g. a socket's reads): SIMD_LANDING_BYTES, 16-aligned. */
  readonly landing: Buffer;
  private landingClaimed = false;
  private readonly exports: Exports;
  private readonly float32: Float32Array;
  private readonly float64: Float64Array;
  /** The target block as views of each type (a full block is copied back without a new view). */
  private readonly block32: Float32Array;
  private readonly block64: Float64Array;

  private constructor(WasmInstance: WasmApi['Instance'], module: object) {
    this.exports = new WasmInstance(module).exports as Exports;
    const memory = this.exports.memory.buffer;
    this.float32 = new Float32Array(memory);
    this.float64 = new Float64Array(memory);
    this.block32 = new Float32Array(memory, 0, BLOCK_BYTES / 4);
    this.block64 = new Float64Array(memory, 0, BLOCK_BYTES / 8);
    this.landing = Buffer.from(memory, LANDING_OFFSET, SIMD_LANDING_BYTES);
    owners.set(memory, this);
  }

  /** A new instance, or undefined when the runtime cannot reserve its memory (RangeError): callers fall back to JS. */
  private static instantiate(WasmInstance: WasmApi['Instance'], module: object): SimdSum | undefined {
    try {
      return new SimdSum(WasmInstance, module);
    } catch (error) {
      if (error instanceof RangeError) return undefined;
      throw error;
    }
  }

  /** A new instance (its own memory and landing area), or undefined without WebAssembly SIMD. */
  static create(): SimdSum | undefined {
    const module = simdModule();
    return module === null || wasm === undefined ? undefined : SimdSum.instantiate(wasm.Instance, module);
  }

  /**
   * A zero-filled array of `length` elements in the memory of a new instance of its own (so that summing into it
   * needs no copies), or undefined where that is not possible (no WebAssembly SIMD, or over 4 GiB).
   */
  static allocate(length: number, type: 'float32' | 'float64'): FloatArray | undefined {
    const elementBytes = type === 'float32' ? 4 : 8;
    const module = moduleWithRoomFor(Math.ceil((length * elementBytes) / WASM_PAGE_BYTES));
    if (module === null || wasm === undefined) return undefined;
    const memory = SimdSum.instantiate(wasm.Instance, module)?.exports.memory.buffer;
    if (memory === undefined) return undefined;
    const offset = MEMORY_PAGES * WASM_PAGE_BYTES;
    return type === 'float32' ? new Float32Array(memory, offset, length) : new Float64Array(memory, offset, length);
  }

  /** The instance whose memory holds `array`, if any. */
  static owning(array: ArrayBufferView): SimdSum | undefined {
    return owners.get(array.buffer);
  }

  /** The instance to combine `incoming` with: the one whose memory holds it, else a shared one (undefined: none). */
  static for(incoming: FloatArray): SimdSum | undefined {
    const owner = owners.get(incoming.buffer);
    if (owner !== undefined) return owner;
    shared ??= SimdSum.create() ?? null;
    return shared ?? undefined;
  }

  /**
   * The landing area for one user at a time (e.g. one all-reduce of an allocated array), or undefined while another
   * holds it: two collectives on two groups over parts of one array must not land their reads in the same place.
   */
  claimLanding(): Buffer | undefined {
    if (this.landingClaimed) return undefined;
    this.landingClaimed = true;
    return this.landing;
  }

  releaseLanding(): void {
    this.landingClaimed = false;
  }

  /** Whether `count` elements are worth the SIMD path. */
  static worthIt(count: number): boolean {
    return count >= MIN_ELEMENTS;
  }

  /** target[offset + i] += incoming[i] for every i; both arrays of one element type. */
  add(target: FloatArray, offset: number, incoming: FloatArray): void {
    const size = incoming.BYTES_PER_ELEMENT;
    const view = size === 4 ? this.float32 : this.float64;
    const block = size === 4 ? this.block32 : this.block64;
    const add = size === 4 ? this.exports.addF32 : this.exports.addF64;
    const inPlace = incoming.buffer === this.exports.memory.buffer;
    const perBlock = BLOCK_BYTES / size;
    const sourceBlock = SOURCE_OFFSET / size;
    const count = incoming.length;
    if (inPlace && target.buffer === incoming.buffer) {
      // both in this memory (an allocated array and the landing area): summed where they are
      const vectorLength = count - (count % (VECTOR_BYTES / size));
      add(target.byteOffset + offset * size, incoming.byteOffset, vectorLength * size);
      for (let index = vectorLength; index < count; index += 1) target[offset + index] = (target[offset + index] as number) + (incoming[index] as number);
      return;
    }
    for (let start = 0; start < count; start += perBlock) {
      const length = Math.min(perBlock, count - start);
      const vectorLength = length - (length % (VECTOR_BYTES / size));
      view.set(target.subarray(offset + start, offset + start + vectorLength), 0);
      let source = incoming.byteOffset + start * size;
      if (!inPlace) {
        view.set(incoming.subarray(start, start + vectorLength), sourceBlock);
        source = sourceBlock * size;
      }
      add(0, source, vectorLength * size);
      target.set(vectorLength === perBlock ? block : block.subarray(0, vectorLength), offset + start);
      for (let index = start + vectorLength; index < start + length; index += 1) {
        target[offset + index] = (target[offset + index] as number) + (incoming[index] as number);
      }
    }
  }

  /** target[i] /= divisor for start ≤ i < end. */
  divide(target: FloatArray, start: number, end: number, divisor: number): void {
    const size = target.BYTES_PER_ELEMENT;
    const view = size === 4 ? this.float32 : this.float64;
    const divide = size === 4 ? this.exports.divF32 : this.exports.divF64;
    if (target.buffer === this.exports.memory.buffer) {
      const vectorEnd = end - ((end - start) % (VECTOR_BYTES / size));
      divide(target.byteOffset + start * size, (vectorEnd - start) * size, divisor);
      for (let index = vectorEnd; index < end; index += 1) target[index] = (target[index] as number) / divisor;
      return;
    }
    const perBlock = BLOCK_BYTES / size;
    for (let from = start; from < end; from += perBlock) {
      const length = Math.min(perBlock, end - from);
      const vectorLength = length - (length % (VECTOR_BYTES / size));
      view.set(target.subarray(from, from + vectorLength), 0);
      divide(0, vectorLength * size, divisor);
      target.set(view.subarray(0, vectorLength), from);
      for (let index = from + vectorLength; index < from + length; index += 1) target[index] = (target[index] as number) / divisor;
    }
  }
}

let shared: SimdSum | null | undefined;
