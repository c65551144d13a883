// Linear4bit: a frozen linear layer whose weight is stored 4-bit quantized in bitsandbytes' format (like bnb's
// `Linear4bit` / `Params4bit`) and dequantized on the fly in `forward`.
//
// Layout: the caller hands the weight as [in, out] (the transposed HF nn.Linear layout our models use); it is
// quantized in HF's [out, in] row-major order so that `quantizedState()` holds exactly the bytes bnb stores for
// the same nn.Linear (`weight` packed codes, `absmax`, and with double quantization `nested_absmax`,
// `nested_quant_map`, `nested_offset`). Storage is honest in `tf.memory()`: the packed codes live in an int32
// tensor, four bytes (eight codes) per int32; the absmax state in float32 / int32 tensors.
import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, type LinearLayer } from '@rlhfjs/core';
import { codeTableFor, type FourBitQuantType } from './code_tables';
import {
  NESTED_ABSMAX_BLOCK_SIZE,
  quantize4bit,
  resolveQuantize4bitConfig,
  type Quantize4bitOptions,
  type Quantized4bit,
} from './quantize_4bit';

export interface Linear4bitOptions extends Quantize4bitOptions {
  /**
   * Keep one Float32Array of in×out values per layer and decode into it on every forward (default true): no
   * allocation per call, but the layer then holds a float32 copy of its weight in JS memory (outside
   * `tf.memory()`). false decodes into a fresh array per call, freed with the temporary tensor.
   */
  keepDecodeBuffer?: boolean;
}

/** Bytes as int32 words (little-endian on every platform tfjs runs on), zero-padded to a multiple of 4. */
function bytesToInt32(bytes: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

function int32ToBytes(words: Int32Array | Float32Array | Uint8Array, byteLength: number): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, byteLength);
}

interface NestedTensors {
  readonly absmaxQuantizedWords: tf.Tensor1D; // int32, 4 codes per element
  readonly absmaxScale: tf.Tensor1D; // float32, one per 256 blocks
  readonly absmaxCode: tf.Tensor1D; // float32 [256]
  readonly absmaxOffset: number;
}

export class Linear4bit implements LinearLayer {
  readonly kind = 'linear4bit';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly quantType: FourBitQuantType;
  readonly blockSize: number;
  readonly doubleQuant: boolean;

  private readonly packedWords: tf.Tensor1D; // int32, 8 codes per element, HF [out, in] order
  private readonly packedByteLength: number;
  private readonly absmax: tf.Tensor1D | null; // float32 per block (plain)
  private readonly nested: NestedTensors | null; // (double quantization)
  private readonly blockCount: number;
  private readonly bias: tf.Variable | null;
  private readonly keepDecodeBuffer: boolean;
  private decodeBuffer: Float32Array | null = null;
  private disposed = false;

  private constructor(
    quantized: Quantized4bit,
    inFeatures: number,
    outFeatures: number,
    bias: Float32Array | null,
    keepDecodeBuffer: boolean
  ) {
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.quantType = quantized.quantType;
    this.blockSize = quantized.blockSize;
    this.doubleQuant = quantized.doubleQuant;
    this.keepDecodeBuffer = keepDecodeBuffer;
    this.packedByteLength = quantized.packed.length;
    this.blockCount = quantized.absmax.length;
    this.packedWords = tf.tensor1d(bytesToInt32(quantized.packed), 'int32');
    if (quantized.doubleQuant) {
      this.absmax = null;
      this.nested = {
        absmaxQuantizedWords: tf.tensor1d(bytesToInt32(quantized.absmaxQuantized), 'int32'),
        absmaxScale: tf.tensor1d(quantized.absmaxScale, 'float32'),
        absmaxCode: tf.tensor1d(quantized.absmaxCode, 'float32'),
        absmaxOffset: quantized.absmaxOffset,
      };
    } else {
      this.absmax = tf.tensor1d(quantized.absmax, 'float32');
      this.nested = null;
    }
    if (bias === null) {
      this.bias = null;
    } else {
      const initial = tf.tensor1d(bias, 'float32'); // [out]
      this.bias = tf.variable(initial, false); // frozen, like the base layer in QLoRA
      initial.dispose();
    }
  }

  /**
   * Quantizes a float32 weight given as [in, out] row-major (bnb order: quantized as HF's [out, in]).
   * `bias` ([out]) stays float32 and is the only parameter.
   */
  static fromWeight(
    weight: Float32Array,
    inFeatures: number,
    outFeatures: number,
    bias: Float32Array | null,
    options: Linear4bitOptions = {}
  ): Linear4bit {
    const { keepDecodeBuffer = true, ...quantizeOptions } = options;
    const problems: string[] = [];
    if (!Number.isInteger(inFeatures) || inFeatures <= 0)
      problems.push(`inFeatures must be a positive integer, got ${inFeatures}`);
    if (!Number.isInteger(outFeatures) || outFeatures <= 0)
      problems.push(`outFeatures must be a positive integer, got ${outFeatures}`);
    if (problems.length === 0 && weight.length !== inFeatures * outFeatures) {
      problems.push(`weight has ${weight.length} values, expected in × out = ${inFeatures} × ${outFeatures}`);
    }
    if (bias !== null && bias.length !== outFeatures)
      problems.push(`bias has ${bias.length} values, expected out = ${outFeatures}`);
    if (typeof keepDecodeBuffer !== 'boolean') problems.push(`keepDecodeBuffer must be a boolean`);
    if (problems.length > 0) throw new ConfigError('Linear4bit.fromWeight', problems);
    resolveQuantize4bitConfig(quantizeOptions);
    const hfWeight = new Float32Array(weight.length); // [out, in]
    for (let row = 0; row < inFeatures; row += 1) {
      for (let column = 0; column < outFeatures; column += 1) {
        hfWeight[column * inFeatures + row] = weight[row * outFeatures + column] ?? 0;
      }
    }
    return new Linear4bit(quantize4bit(hfWeight, quantizeOptions), inFeatures, outFeatures, bias, keepDecodeBuffer);
  }

  /** Wraps an existing quantized weight in HF [out, in] order (e.g. read from a bnb checkpoint). */
  static fromQuantized(
    quantized: Quantized4bit,
    inFeatures: number,
    outFeatures: number,
    bias: Float32Array | null,
    options: { keepDecodeBuffer?: boolean } = {}
  ): Linear4bit {
    const problems: string[] = [];
    if (quantized.length !== inFeatures * outFeatures) {
      problems.push(`quantized weight has ${quantized.length} values, expected ${inFeatures} × ${outFeatures}`);
    }
    if (quantized.packed.length !== Math.ceil(quantized.length / 2))
      problems.push('packed length does not match length');
    if (quantized.absmax.length !== Math.ceil(quantized.length / quantized.blockSize))
      problems.push('absmax length does not match the block count');
    if (bias !== null && bias.length !== outFeatures)
      problems.push(`bias has ${bias.length} values, expected ${outFeatures}`);
    if (problems.length > 0) throw new ConfigError('Linear4bit.fromQuantized', problems);
    return new Linear4bit(quantized, inFeatures, outFeatures, bias, options.keepDecodeBuffer ?? true);
  }

  /** x: [N, in] → [N, out] = x · dequant(W)ᵀ + bias, the weight decoded for this call only. */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    this.checkAlive('forward');
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new ShapeError(`Linear4bit.forward: x must be [N, ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    }
    const weightValues = this.decodeWeight(); // [in, out]
    return tf.tidy((): tf.Tensor2D => {
      const weight = tf.tensor2d(weightValues, [this.inFeatures, this.outFeatures], 'float32'); // [in, out]
      const output: tf.Tensor2D = tf.matMul(x, weight); // [N, out]
      return this.bias === null ? output : (tf.add(output, this.bias) as tf.Tensor2D); // [N, out]
    });
  }

  /** Only the bias: the quantized weight is not a variable. */
  parameters(): Map<string, tf.Variable> {
    this.checkAlive('parameters');
    return this.bias === null ? new Map() : new Map([['bias', this.bias]]);
  }

  /** Bytes held in tensors for the quantized weight (codes + absmax state; the bias not included). */
  bytesOfQuantizedWeights(): number {
    this.checkAlive('bytesOfQuantizedWeights');
    const tensors =
      this.nested === null
        ? [this.packedWords, this.absmax]
        : [this.packedWords, this.nested.absmaxQuantizedWords, this.nested.absmaxScale, this.nested.absmaxCode];
    return tensors.reduce((sum, tensor) => sum + (tensor === null ? 0 : tensor.size * 4), 0);
  }

  /** The stored quantization in bnb layout (HF [out, in] order), read back from the tensors. */
  quantizedState(): Quantized4bit {
    this.checkAlive('quantizedState');
    const packed = int32ToBytes(this.packedWords.dataSync() as Int32Array, this.packedByteLength).slice();
    const length = this.inFeatures * this.outFeatures;
    const base = { quantType: this.quantType, blockSize: this.blockSize, length, packed };
    if (this.nested === null) {
      return { ...base, absmax: (this.absmax?.dataSync() as Float32Array).slice(), doubleQuant: false };
    }
    const absmaxQuantized = int32ToBytes(
      this.nested.absmaxQuantizedWords.dataSync() as Int32Array,
      this.blockCount
    ).slice();
    const absmaxScale = (this.nested.absmaxScale.dataSync() as Float32Array).slice();
    const absmaxCode = (this.nested.absmaxCode.dataSync() as Float32Array).slice();
    return {
      ...base,
      absmax: this.currentAbsmax(),
      doubleQuant: true,
      absmaxQuantized,
      absmaxScale,
      absmaxCode,
      absmaxOffset: this.nested.absmaxOffset,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.packedWords.dispose();
    this.absmax?.dispose();
    if (this.nested !== null) {
      this.nested.absmaxQuantizedWords.dispose();
      this.nested.absmaxScale.dispose();
      this.nested.absmaxCode.dispose();
    }
    this.bias?.dispose();
    this.decodeBuffer = null;
  }

  private checkAlive(method: string): void {
    if (this.disposed) throw new ConfigError(`Linear4bit.${method}`, ['the layer has been disposed']);
  }

  /** Per-block absmax as bnb's dequantizer uses it (decoded from the nested state when double-quantized). */
  private currentAbsmax(): Float32Array {
    if (this.nested === null) return this.absmax?.dataSync() as Float32Array;
    const codes = int32ToBytes(this.nested.absmaxQuantizedWords.dataSync() as Int32Array, this.blockCount);
    const scale = this.nested.absmaxScale.dataSync() as Float32Array;
    const code = this.nested.absmaxCode.dataSync() as Float32Array;
    const absmax = new Float32Array(this.blockCount);
    for (let block = 0; block < this.blockCount; block += 1) {
      const scaled = Math.fround(
        (code[codes[block] ?? 0] ?? 0) * (scale[Math.floor(block / NESTED_ABSMAX_BLOCK_SIZE)] ?? 0)
      );
      absmax[block] = Math.fround(scaled + this.nested.absmaxOffset);
    }
    return absmax;
  }

  /** Decodes the weight into [in, out] row-major float32 (the codes are stored in HF [out, in] order). */
  private decodeWeight(): Float32Array {
    const size = this.inFeatures * this.outFeatures;
    let out = this.decodeBuffer;
    if (out === null) {
      out = new Float32Array(size);
      if (this.keepDecodeBuffer) this.decodeBuffer = out;
    }
    const packed = int32ToBytes(this.packedWords.dataSync() as Int32Array, this.packedByteLength);
    const absmax = this.currentAbsmax();
    const table = codeTableFor(this.quantType);
    const { inFeatures, outFeatures, blockSize } = this;
    for (let row = 0; row < outFeatures; row += 1) {
      for (let column = 0; column < inFeatures; column += 1) {
        const index = row * inFeatures + column; // position in HF [out, in]
        const byte = packed[index >> 1] ?? 0;
        const code = (index & 1) === 0 ? byte >> 4 : byte & 0x0f;
        out[column * outFeatures + row] = (table[code] ?? 0) * (absmax[Math.floor(index / blockSize)] ?? 0);
      }
    }
    return out;
  }
}
