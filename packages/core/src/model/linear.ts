import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors/errors';
import { matMul2d } from '../ops/mat_mul';
import { matMul2dBias } from '../ops/mat_mul_bias';

/**
 * A linear map the model reaches by its Hugging Face module name, so LoRA and 4-bit quantization can wrap or
 * replace it without the model knowing (DESIGN.md, "Core building blocks").
 */
export interface LinearLayer {
  /** 'linear' for core's layer; wrappers use their own ('lora', 'linear4bit'). */
  readonly kind: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x: [N, in] → [N, out] */
  forward(x: tf.Tensor2D): tf.Tensor2D;
  /** Parameters by name relative to the module: 'weight' is [in, out] (transposed nn.Linear), 'bias' is [out]. */
  parameters(): Map<string, tf.Variable>;
  /**
   * A layer that draws random numbers in forward (LoRA dropout) exposes where its next draw comes from, so that
   * gradient checkpointing can replay the forward's draws when it recomputes the block (same masks, same
   * gradients) and then put the state back. Deterministic layers leave both out.
   */
  randomState?(): number;
  setRandomState?(state: number): void;
  dispose(): void;
}

/**
 * How the checkpoint stores the weight: `linear` is torch's nn.Linear [out, in]; `conv1d` is GPT-2's Conv1D
 * [in, out]. In memory every weight is [in, out] so that the forward product is a plain x @ W.
 */
export type WeightLayout = 'linear' | 'conv1d';

export class Linear implements LinearLayer {
  readonly kind = 'linear';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly layout: WeightLayout;
  readonly weight: tf.Variable; // [in, out]
  readonly bias: tf.Variable | null; // [out]

  constructor(weight: tf.Variable, bias: tf.Variable | null, layout: WeightLayout) {
    if (weight.rank !== 2) throw new ShapeError(`Linear: weight must be rank 2 [in, out], got [${weight.shape}]`);
    const [inFeatures, outFeatures] = weight.shape as [number, number];
    if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== outFeatures)) {
      throw new ShapeError(`Linear: bias must be [${outFeatures}], got [${bias.shape}]`);
    }
    this.weight = weight;
    this.bias = bias;
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.layout = layout;
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      if (x.shape[1] !== this.inFeatures) {
        throw new ShapeError(`Linear.forward: x is [${x.shape}], expected [N, ${this.inFeatures}]`);
      }
      if (this.bias !== null) return matMul2dBias(x, this.weight as tf.Tensor2D, this.bias as tf.Tensor1D); // [N, out]
      return matMul2d(x, this.weight as tf.Tensor2D); // [N, out]
    });
  }

  parameters(): Map<string, tf.Variable> {
    const parameters = new Map<string, tf.Variable>([['weight', this.weight]]);
    if (this.bias !== null) parameters.set('bias', this.bias);
    return parameters;
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}

/** Applies a linear layer to [..., in] → [..., out] by flattening the leading dimensions. */
export function applyLinear(layer: LinearLayer, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const leading = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, layer.inFeatures]) as tf.Tensor2D; // [N, in]
    return tf.reshape(layer.forward(flat), [...leading, layer.outFeatures]); // [..., out]
  });
}
