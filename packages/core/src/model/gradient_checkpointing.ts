import * as tf from '@tensorflow/tfjs';
import { customOp } from '../ops/custom_op';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import type { BlockFunction, CausalLM } from './causal_lm';
import { gpt2Block } from './gpt2_block';
import { llamaBlock } from './llama_block';

/**
 * Gradient checkpointing per transformer block: the forward pass keeps only each block's input, and the
 * backward pass recomputes the block's activations (through `tf.customGrad`) before differentiating it. Trades
 * one extra forward per block for not holding every intermediate activation between forward and backward.
 * Only the training path (no KV cache) is checkpointed.
 */
export function enableGradientCheckpointing(model: CausalLM): void {
  const base: BlockFunction = model.config.family === 'gpt2' ? gpt2Block : llamaBlock;
  const prefix = (layer: number): string => (model.config.family === 'gpt2' ? `transformer.h.${layer}.` : `model.layers.${layer}.`);
  model.blockFunction = (source: ParameterSource, layer: number, x: tf.Tensor3D, context: BlockContext): BlockOutput => {
    if (context.pastKey !== null) return base(source, layer, x, context);
    const variables = [...model.namedParameters()].filter(([name, variable]) => name.startsWith(prefix(layer)) && variable.trainable).map(([, variable]) => variable);
    const contextTensors = [context.bias, ...(context.rope === null ? [] : [context.rope.cos, context.rope.sin])];
    const rebuild = (inputs: readonly tf.Tensor[]): BlockContext => ({
      bias: inputs[1] as tf.Tensor4D,
      rope: context.rope === null ? null : { cos: inputs[2] as tf.Tensor4D, sin: inputs[3] as tf.Tensor4D },
      pastKey: null,
      pastValue: null,
    });
    const checkpointed = customOp((inputs, save) => {
      save(inputs.slice(0, 1 + contextTensors.length));
      const output = base(source, layer, inputs[0] as tf.Tensor3D, rebuild(inputs));
      tf.dispose([output.key, output.value]);
      return {
        value: output.hidden,
        gradFunc: (dy, saved) => {
          const recompute = (xIn: tf.Tensor): tf.Tensor => {
            const again = base(source, layer, xIn as tf.Tensor3D, rebuild(saved));
            tf.dispose([again.key, again.value]);
            return again.hidden;
          };
          // tf.grads inside a gradient function starts a tape of its own and, when done, clears the engine's
          // active tape, which the outer backward pass still walks afterwards: keep it and put it back.
          const engineState = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
          const outerTape = engineState.activeTape;
          let gradients: tf.Tensor[];
          try {
            gradients = tf.grads((xIn: tf.Tensor, ..._parameters: tf.Tensor[]) => recompute(xIn))([saved[0] as tf.Tensor, ...variables], dy);
          } finally {
            engineState.activeTape = outerTape;
          }
          const zeros = contextTensors.map((tensor) => tf.zerosLike(tensor));
          return [gradients[0] as tf.Tensor, ...zeros, ...gradients.slice(1)];
        },
      };
    });
    const hidden = checkpointed(x, ...contextTensors, ...variables) as tf.Tensor3D;
    // keys/values are only needed with a cache, which this path never serves
    return { hidden, key: tf.zeros([0, 0, 0, 0]) as tf.Tensor4D, value: tf.zeros([0, 0, 0, 0]) as tf.Tensor4D };
  };
}

export function disableGradientCheckpointing(model: CausalLM): void {
  model.blockFunction = undefined;
}
