// Blockwise 4-bit quantization (NF4 / FP4) with optional nested ("double") quantization of the absmax values,
// producing the same bytes and numbers as bitsandbytes' `quantize_4bit` / `dequantize_4bit`
// (bitsandbytes/functional.py; CUDA kernels kQuantizeBlockwise / kDequantizeBlockwise in csrc/kernels.cu).
//
// Per block of `blockSize` values: absmax = max |x| (float32); every value is normalised as
// x * float32(1 / absmax) (a float32 multiply by the reciprocal, like the kernel, not a division) and mapped to a
// 4-bit code by bnb's decision tree. Two codes go into one byte, the first element in the HIGH nibble. An odd
// length is padded with the code of 0.0 normalised by the last block (what the kernel's zero-filled load gives).
// An all-zero block has absmax 0: the kernel computes 0 * inf = NaN, which fails every threshold (code 0) and
// dequantizes to code * 0 = (-)0, so zeros come back; reproduced here.
//
// Double quantization (bnb `compress_statistics=True`): offset = mean(absmax); absmax - offset is quantized
// blockwise in blocks of 256 with bnb's signed 8-bit dynamic map; dequantized absmax = code[q] * scale + offset.
// bnb takes the mean with torch's float32 reduction; we sum in float64 and round once to float32, which can differ
// from a given torch build in the last bit of the offset (documented deviation; bytes still match bnb whenever
// the offsets agree).
import { ConfigError } from '@rlhfjs/core';
import { codeTableFor, createDynamicMap, type FourBitQuantType } from './code_tables';
import { quantizeDynamicValue, quantizeFp4Value, quantizeNf4Value } from './decision_trees';

/** Block sizes bnb's 4-bit kernels accept. */
export const SUPPORTED_4BIT_BLOCK_SIZES: readonly number[] = Object.freeze([32, 64, 128, 256, 512, 1024, 2048, 4096]);

/** Block size of the nested absmax quantization (bnb: `quantize_blockwise(absmax, blocksize=256)`). */
export const NESTED_ABSMAX_BLOCK_SIZE = 256;

export interface Quantize4bitOptions {
  /** 'nf4' (default, as QLoRA recommends) or 'fp4'. */
  quantType?: FourBitQuantType;
  /** Values per absmax block; default 64 (bnb's default). */
  blockSize?: number;
  /** Quantize the absmax values too (bnb `compress_statistics`, QLoRA "double quantization"); default false. */
  doubleQuant?: boolean;
}

export interface Quantize4bitConfig {
  readonly quantType: FourBitQuantType;
  readonly blockSize: number;
  readonly doubleQuant: boolean;
}

interface Quantized4bitBase {
  readonly quantType: FourBitQuantType;
  readonly blockSize: number;
  /** Number of quantized values (before padding). */
  readonly length: number;
  /** ceil(length / 2) bytes; element 2k in the high nibble of byte k, element 2k+1 in the low nibble. */
  readonly packed: Uint8Array;
  /**
   * One float32 per block: the absmax the dequantizer multiplies by. With double quantization this is the
   * absmax as reconstructed from the nested quantization (what bnb dequantizes with), not the exact one.
   */
  readonly absmax: Float32Array;
}

export interface Quantized4bitPlain extends Quantized4bitBase {
  readonly doubleQuant: false;
}

export interface Quantized4bitDouble extends Quantized4bitBase {
  readonly doubleQuant: true;
  /** One byte per block: the 8-bit dynamic-map code of (absmax - absmaxOffset) / absmaxScale. */
  readonly absmaxQuantized: Uint8Array;
  /** One float32 per 256 blocks: the absmax of (absmax - absmaxOffset) in that group (bnb `state2.absmax`). */
  readonly absmaxScale: Float32Array;
  /** The 256-entry signed dynamic map (bnb `state2.code`, `create_dynamic_map()`). */
  readonly absmaxCode: Float32Array;
  /** float32 mean of the exact absmax values (bnb `offset`). */
  readonly absmaxOffset: number;
}

export type Quantized4bit = Quantized4bitPlain | Quantized4bitDouble;

/** Resolves and checks 4-bit quantization options; every problem is reported in one ConfigError. */
export function resolveQuantize4bitConfig(options: Quantize4bitOptions = {}): Quantize4bitConfig {
  const problems: string[] = [];
  const quantType = options.quantType ?? 'nf4';
  if (quantType !== 'nf4' && quantType !== 'fp4') {
    problems.push(`quantType must be 'nf4' or 'fp4', got ${JSON.stringify(quantType)}`);
  }
  const blockSize = options.blockSize ?? 64;
  if (!SUPPORTED_4BIT_BLOCK_SIZES.includes(blockSize)) {
    problems.push(
      `blockSize must be one of ${SUPPORTED_4BIT_BLOCK_SIZES.join(', ')} (as in bitsandbytes), got ${String(blockSize)}`
    );
  }
  const doubleQuant = options.doubleQuant ?? false;
  if (typeof doubleQuant !== 'boolean') {
    problems.push(`doubleQuant must be a boolean, got ${JSON.stringify(doubleQuant)}`);
  }
  if (problems.length > 0) throw new ConfigError('quantize4bit options', problems);
  return Object.freeze({ quantType, blockSize, doubleQuant });
}

function checkFinite(where: string, values: Float32Array): void {
  const bad: string[] = [];
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index] ?? 0;
    if (!Number.isFinite(value)) {
      if (bad.length < 5) bad.push(`values[${index}] is ${String(value)}`);
      else {
        bad.push('... (more non-finite values follow)');
        break;
      }
    }
  }
  if (bad.length > 0) {
    throw new ConfigError(where, [`4-bit quantization needs finite values: ${bad.join('; ')}`]);
  }
}

/** max |x| per block of `blockSize` values (the last block may be short). */
function blockAbsmax(values: Float32Array, blockSize: number): Float32Array {
  const blockCount = Math.ceil(values.length / blockSize);
  const absmax = new Float32Array(blockCount);
  for (let block = 0; block < blockCount; block += 1) {
    const end = Math.min(values.length, (block + 1) * blockSize);
    let maximum = 0;
    for (let index = block * blockSize; index < end; index += 1) {
      const magnitude = Math.abs(values[index] ?? 0);
      if (magnitude > maximum) maximum = magnitude;
    }
    absmax[block] = maximum;
  }
  return absmax;
}

/** bnb's 8-bit blockwise quantization with the dynamic map (used for the nested absmax). */
function quantizeBlockwiseDynamic(
  values: Float32Array,
  blockSize: number,
  code: Float32Array
): { quantized: Uint8Array; scale: Float32Array } {
  const scale = blockAbsmax(values, blockSize);
  const quantized = new Uint8Array(values.length);
  for (let index = 0; index < values.length; index += 1) {
    const reciprocal = Math.fround(1 / (scale[Math.floor(index / blockSize)] ?? 0));
    quantized[index] = quantizeDynamicValue(code, Math.fround((values[index] ?? 0) * reciprocal));
  }
  return { quantized, scale };
}

/** absmax as bnb's dequantizer reconstructs it: code[q] * scale (float32) + offset (float32). */
function dequantizeNestedAbsmax(
  absmaxQuantized: Uint8Array,
  absmaxScale: Float32Array,
  absmaxCode: Float32Array,
  absmaxOffset: number
): Float32Array {
  const absmax = new Float32Array(absmaxQuantized.length);
  for (let index = 0; index < absmax.length; index += 1) {
    const scaled = Math.fround(
      (absmaxCode[absmaxQuantized[index] ?? 0] ?? 0) * (absmaxScale[Math.floor(index / NESTED_ABSMAX_BLOCK_SIZE)] ?? 0)
    );
    absmax[index] = Math.fround(scaled + absmaxOffset);
  }
  return absmax;
}

/** The per-block absmax a dequantizer must use: the stored one, or the one decoded from the nested state. */
export function effectiveAbsmax(quantized: Quantized4bit): Float32Array {
  if (!quantized.doubleQuant) return quantized.absmax;
  return dequantizeNestedAbsmax(
    quantized.absmaxQuantized,
    quantized.absmaxScale,
    quantized.absmaxCode,
    quantized.absmaxOffset
  );
}

/**
 * Quantizes float32 values to 4 bits per value in bnb's NF4 or FP4 format. Throws ConfigError for bad options or
 * NaN / infinite inputs (naming the index). Does not modify `values`.
 */
export function quantize4bit(values: Float32Array, options: Quantize4bitOptions = {}): Quantized4bit {
  const config = resolveQuantize4bitConfig(options);
  if (!(values instanceof Float32Array)) {
    throw new ConfigError('quantize4bit', [
      `values must be a Float32Array, got ${Object.prototype.toString.call(values)}`,
    ]);
  }
  checkFinite('quantize4bit', values);
  const { blockSize, quantType } = config;
  const length = values.length;
  const exactAbsmax = blockAbsmax(values, blockSize);
  const quantizeValue = quantType === 'nf4' ? quantizeNf4Value : quantizeFp4Value;
  const packed = new Uint8Array(Math.ceil(length / 2));
  for (let index = 0; index < packed.length * 2; index += 1) {
    const reciprocal = Math.fround(1 / (exactAbsmax[Math.floor(index / blockSize)] ?? 0));
    // Padding (index === length) is a zero normalised like the kernel's zero-filled load.
    const normalised = Math.fround((index < length ? values[index] ?? 0 : 0) * reciprocal);
    const code = quantizeValue(normalised);
    const byteIndex = index >> 1;
    packed[byteIndex] = (packed[byteIndex] ?? 0) | ((index & 1) === 0 ? code << 4 : code);
  }
  if (!config.doubleQuant) {
    return {
      quantType,
      blockSize,
      length,
      packed,
      absmax: exactAbsmax,
      doubleQuant: false,
    };
  }
  let sum = 0;
  for (const value of exactAbsmax) sum += value;
  const absmaxOffset = exactAbsmax.length === 0 ? 0 : Math.fround(sum / exactAbsmax.length);
  const centred = exactAbsmax.map((value) => Math.fround(value - absmaxOffset));
  const absmaxCode = createDynamicMap();
  const { quantized: absmaxQuantized, scale: absmaxScale } = quantizeBlockwiseDynamic(
    centred,
    NESTED_ABSMAX_BLOCK_SIZE,
    absmaxCode
  );
  return {
    quantType,
    blockSize,
    length,
    packed,
    absmax: dequantizeNestedAbsmax(absmaxQuantized, absmaxScale, absmaxCode, absmaxOffset),
    doubleQuant: true,
    absmaxQuantized,
    absmaxScale,
    absmaxCode,
    absmaxOffset,
  };
}

/**
 * Decodes `quantized` into `out` (length `quantized.length`), value i = float32(code[q_i] * absmax[block(i)]).
 * `absmax` defaults to `effectiveAbsmax(quantized)`; pass it to avoid recomputing the nested decode.
 */
export function dequantize4bitInto(
  quantized: Quantized4bit,
  out: Float32Array,
  absmax: Float32Array = effectiveAbsmax(quantized)
): Float32Array {
  if (out.length !== quantized.length) {
    throw new ConfigError('dequantize4bitInto', [`out has length ${out.length}, expected ${quantized.length}`]);
  }
  const table = codeTableFor(quantized.quantType);
  const { blockSize, packed, length } = quantized;
  for (let index = 0; index < length; index += 1) {
    const byte = packed[index >> 1] ?? 0;
    const code = (index & 1) === 0 ? byte >> 4 : byte & 0x0f;
    out[index] = (table[code] ?? 0) * (absmax[Math.floor(index / blockSize)] ?? 0);
  }
  return out;
}

/** Decodes 4-bit quantized values back to float32 (bnb `dequantize_4bit`). */
export function dequantize4bit(quantized: Quantized4bit): Float32Array {
  checkQuantized(quantized);
  return dequantize4bitInto(quantized, new Float32Array(quantized.length));
}

function checkQuantized(quantized: Quantized4bit): void {
  const problems: string[] = [];
  const blockCount = Math.ceil(quantized.length / quantized.blockSize);
  if (quantized.packed.length !== Math.ceil(quantized.length / 2)) {
    problems.push(`packed has ${quantized.packed.length} bytes, expected ceil(${quantized.length} / 2)`);
  }
  if (quantized.absmax.length !== blockCount) {
    problems.push(`absmax has ${quantized.absmax.length} entries, expected ${blockCount} blocks`);
  }
  if (quantized.doubleQuant && quantized.absmaxQuantized.length !== blockCount) {
    problems.push(`absmaxQuantized has ${quantized.absmaxQuantized.length} entries, expected ${blockCount}`);
  }
  if (problems.length > 0) throw new ConfigError('dequantize4bit', problems);
}
