// A linear layer with low-rank adapters (Hu et al. 2021): y = base(x) + scaling · dropout(x) @ A @ B.
// PEFT stores A as [r, in] and B as [out, r] (nn.Linear layout) and computes lora_B(lora_A(dropout(x))) · scaling;
// here A is kept [in, r] and B [r, out], so every product is a plain rank-2 matmul (DESIGN.md, performance notes),
// and the files are transposed on save/load (peft/adapter_io.ts).
import * as tf from '@tensorflow/tfjs';
import { ConfigError, Linear, matMul2d, ShapeError, type LinearLayer } from '@rlhfjs/core';
import type { LoraConfig } from './lora_config';

/** One named adapter of a layer. The config object is shared by every layer the adapter adapts. */
export interface LoraAdapterWeights {
  readonly name: string;
  readonly config: LoraConfig;
  /** [in, r] */
  readonly loraA: tf.Variable;
  /** [r, out] */
  readonly loraB: tf.Variable;
  /** Whether the adapter is trained when active (false for adapters loaded for inference). */
  trainable: boolean;
}

/** A base layer whose weight can absorb a delta in place (merge/unmerge). */
export interface MergeableLinear extends LinearLayer {
  /** weight [in, out] += delta [in, out] */
  addToWeight(delta: tf.Tensor2D): void;
}

function isMergeable(layer: LinearLayer): layer is MergeableLinear {
  return typeof (layer as Partial<MergeableLinear>).addToWeight === 'function';
}

export class LoraLinear implements LinearLayer {
  readonly kind = 'lora';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly base: LinearLayer;
  private readonly adapters = new Map<string, LoraAdapterWeights>();
  /** The adapter applied in forward (it may be absent from this layer: then nothing is added). */
  activeAdapter: string | null = null;
  /** The adapter folded into the base weight, or null. */
  private mergedAdapter: string | null = null;
  /** > 0 inside withAdaptersDisabled (a depth, so that nested calls restore correctly). */
  private disabledDepth = 0;
  /** Dropout is applied only while training. */
  training = false;
  private readonly dropoutSeed: number;
  private dropoutCalls = 0;

  constructor(base: LinearLayer, dropoutSeed = 0) {
    if (base instanceof LoraLinear) throw new ConfigError('LoraLinear', ['the base layer is already a LoraLinear; add adapters to it instead']);
    this.base = base;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.dropoutSeed = dropoutSeed;
  }

  /** The number of dropout draws so far: the next mask's seed is `dropoutSeed + randomState()`. */
  randomState(): number {
    return this.dropoutCalls;
  }

  /** Replays (gradient checkpointing's recomputation) or restores the dropout draws from a `randomState()`. */
  setRandomState(state: number): void {
    this.dropoutCalls = state;
  }

  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  adapter(name: string): LoraAdapterWeights | undefined {
    return this.adapters.get(name);
  }

  get merged(): string | null {
    return this.mergedAdapter;
  }

  get disabled(): boolean {
    return this.disabledDepth > 0;
  }

  /** Takes ownership of A [in, r] and B [r, out]. */
  addAdapter(name: string, config: LoraConfig, loraA: tf.Variable, loraB: tf.Variable, trainable: boolean): void {
    if (this.adapters.has(name)) throw new ConfigError('LoraLinear.addAdapter', [`adapter "${name}" already exists`]);
    const { r } = config;
    if (loraA.rank !== 2 || loraA.shape[0] !== this.inFeatures || loraA.shape[1] !== r) {
      throw new ShapeError(`LoraLinear.addAdapter: lora_A of "${name}" is [${loraA.shape}], expected [${this.inFeatures}, ${r}] ([in, r])`);
    }
    if (loraB.rank !== 2 || loraB.shape[0] !== r || loraB.shape[1] !== this.outFeatures) {
      throw new ShapeError(`LoraLinear.addAdapter: lora_B of "${name}" is [${loraB.shape}], expected [${r}, ${this.outFeatures}] ([r, out])`);
    }
    this.adapters.set(name, { name, config, loraA, loraB, trainable });
    this.refreshTrainable();
  }

  /** Removes and disposes one adapter (not while it is merged). */
  deleteAdapter(name: string): void {
    const adapter = this.adapters.get(name);
    if (adapter === undefined) return;
    if (this.mergedAdapter === name) throw new ConfigError('LoraLinear.deleteAdapter', [`adapter "${name}" is merged; unmerge it first`]);
    adapter.loraA.dispose();
    adapter.loraB.dispose();
    this.adapters.delete(name);
  }

  setActiveAdapter(name: string | null): void {
    this.activeAdapter = name;
    this.refreshTrainable();
  }

  /** Only the active adapter's weights are trainable (PEFT `set_adapter`). */
  refreshTrainable(): void {
    for (const adapter of this.adapters.values()) {
      const trainable = adapter.trainable && adapter.name === this.activeAdapter;
      adapter.loraA.trainable = trainable;
      adapter.loraB.trainable = trainable;
    }
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let y = this.base.forward(x); // [N, out]
      if (this.disabledDepth > 0) {
        // Pass through to the base; a merged delta is taken out again on the fly (no weight change).
        if (this.mergedAdapter !== null) y = tf.sub(y, this.delta(this.adapters.get(this.mergedAdapter) as LoraAdapterWeights, x, false));
        return y;
      }
      const adapter = this.activeAdapter === null ? undefined : this.adapters.get(this.activeAdapter);
      if (adapter !== undefined && this.mergedAdapter !== adapter.name) y = tf.add(y, this.delta(adapter, x, this.training));
      return y;
    });
  }

  /** scaling · dropout(x) @ A @ B, x [N, in] → [N, out]. */
  private delta(adapter: LoraAdapterWeights, x: tf.Tensor2D, withDropout: boolean): tf.Tensor2D {
    const { dropout, scaling } = adapter.config;
    const input = withDropout && dropout > 0 ? (tf.dropout(x, dropout, undefined, this.dropoutSeed + this.dropoutCalls++) as tf.Tensor2D) : x;
    const down = matMul2d(input, adapter.loraA as tf.Tensor2D); // [N, in] @ [in, r] → [N, r]
    // The scaling multiplies the rank-r activation, not the [N, out] product: r/out of the work, and no [N, out]
    // tensor kept for the backward pass (exact for the usual power-of-two alpha/r).
    return matMul2d(tf.mul(down, scaling) as tf.Tensor2D, adapter.loraB as tf.Tensor2D); // [N, r] @ [r, out] → [N, out]
  }

  /** scaling · A @ B: [in, out], the delta of the weight in our [in, out] layout. */
  deltaWeight(name: string): tf.Tensor2D {
    const adapter = this.adapters.get(name);
    if (adapter === undefined) throw new ConfigError('LoraLinear.deltaWeight', [`no adapter "${name}"`]);
    return tf.tidy(() => tf.mul(matMul2d(adapter.loraA as tf.Tensor2D, adapter.loraB as tf.Tensor2D), adapter.config.scaling) as tf.Tensor2D);
  }

  /**
   * Folds the adapter's delta into the base weight. In the [in, out] layout the delta is scaling · A @ B for both
   * nn.Linear and GPT-2's Conv1D: PEFT's `transpose(B @ A, fan_in_fan_out)` is the same matrix once its
   * nn.Linear [out, in] weights are read as [in, out].
   */
  merge(name: string): void {
    if (this.mergedAdapter === name) return;
    if (this.mergedAdapter !== null) throw new ConfigError('LoraLinear.merge', [`adapter "${this.mergedAdapter}" is already merged`]);
    if (!this.adapters.has(name)) return;
    this.addDelta(name, 1);
    this.mergedAdapter = name;
  }

  /** Whether the base layer's weight can absorb a delta (core Linear, or a MergeableLinear). */
  canMerge(): boolean {
    return this.base instanceof Linear || isMergeable(this.base);
  }

  unmerge(): void {
    if (this.mergedAdapter === null) return;
    this.addDelta(this.mergedAdapter, -1);
    this.mergedAdapter = null;
  }

  private addDelta(name: string, sign: 1 | -1): void {
    const delta = tf.tidy(() => tf.mul(this.deltaWeight(name), sign) as tf.Tensor2D); // [in, out]
    try {
      if (this.base instanceof Linear) {
        const weight = this.base.weight;
        tf.tidy(() => weight.assign(tf.add(weight, delta)));
      } else if (isMergeable(this.base)) this.base.addToWeight(delta);
      else throw new ConfigError('LoraLinear.merge', [`cannot merge into a base layer of kind "${this.base.kind}"`]);
    } finally {
      delta.dispose();
    }
  }

  /** Adapter passes through while depth > 0 (withAdaptersDisabled). */
  pushDisabled(): void {
    this.disabledDepth++;
  }

  popDisabled(): void {
    this.disabledDepth = Math.max(0, this.disabledDepth - 1);
  }

  /** 'base_layer.<p>' for the base's parameters, 'lora_A.<adapter>.weight' and 'lora_B.<adapter>.weight' (PEFT's module names). */
  parameters(): Map<string, tf.Variable> {
    const parameters = new Map<string, tf.Variable>();
    for (const [name, variable] of this.base.parameters()) parameters.set(`base_layer.${name}`, variable);
    for (const adapter of this.adapters.values()) {
      parameters.set(`lora_A.${adapter.name}.weight`, adapter.loraA);
      parameters.set(`lora_B.${adapter.name}.weight`, adapter.loraB);
    }
    return parameters;
  }

  /** Disposes the adapters and hands back the base layer (unchanged unless an adapter is merged). */
  unwrap(): LinearLayer {
    for (const name of [...this.adapters.keys()]) {
      if (name === this.mergedAdapter) this.mergedAdapter = null; // removing a merged adapter keeps its delta in the base
      this.deleteAdapter(name);
    }
    return this.base;
  }

  dispose(): void {
    for (const adapter of this.adapters.values()) {
      adapter.loraA.dispose();
      adapter.loraB.dispose();
    }
    this.adapters.clear();
    this.base.dispose();
  }
}
