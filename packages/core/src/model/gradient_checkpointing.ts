import * as tf from '@tensorflow/tfjs';
import { customOp } from '../ops/custom_op';
import type { BlockContext, BlockOutput, ParameterSource } from './block_context';
import type { BlockFunction, CausalLM } from './causal_lm';
import { gpt2Block } from './gpt2_block';
import { llamaBlock } from './llama_block';

/** The block functions enableGradientCheckpointing installed (to tell whether a model already has one). */
const installedWrappers = new WeakSet<BlockFunction>();

/**
 * Gradient checkpointing per transformer block: the forward pass keeps only each block's input, and the
 * backward pass recomputes the block's activations (through `tf.customGrad`) before differentiating it. Trades
 * one extra forward per block for not holding every intermediate activation between forward and backward.
 * Only the training path (no KV cache) is checkpointed; without a gradient tape (scoring, a frozen reference sharing
 * the model) the wrapped block saves nothing and costs nothing extra.
 *
 * Returns a function that puts back the block function the model had before (trainers call it on dispose, so a
 * model they were given leaves them as it came). Enabling it on a model that already has it is a no-op whose
 * undo is a no-op too.
 */
export function enableGradientCheckpointing(model: CausalLM): () => void {
  if (isGradientCheckpointingEnabled(model)) return () => undefined;
  const previous = model.blockFunction;
  const base: BlockFunction = model.config.family === 'gpt2' ? gpt2Block : llamaBlock;
  const prefix = (layer: number): string => (model.config.family === 'gpt2' ? `transformer.h.${layer}.` : `model.layers.${layer}.`);
  model.blockFunction = (source: ParameterSource, layer: number, x: tf.Tensor3D, context: BlockContext): BlockOutput => {
    // a forward that builds or reads a KV cache needs the block's keys/values: not checkpointed
    if (context.pastKey !== null || context.keepKeyValues === true) return base(source, layer, x, context);
    const variables = [...model.namedParameters()].filter(([name, variable]) => name.startsWith(prefix(layer)) && variable.trainable).map(([, variable]) => variable);
    // layers that draw random numbers (LoRA dropout): the recomputation replays this forward's draws
    const stochastic = model.linearNames().filter((name) => name.startsWith(prefix(layer))).map((name) => model.linear(name)).filter((linear) => linear.randomState !== undefined && linear.setRandomState !== undefined);
    const forwardStates = stochastic.map((linear) => (linear.randomState as () => number).call(linear));
    const setStates = (states: readonly number[]): void => stochastic.forEach((linear, index) => (linear.setRandomState as (state: number) => void).call(linear, states[index] as number));
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
          const laterStates = stochastic.map((linear) => (linear.randomState as () => number).call(linear));
          let gradients: tf.Tensor[];
          try {
            setStates(forwardStates); // the same dropout masks as the forward drew
            gradients = tf.grads((xIn: tf.Tensor, ..._parameters: tf.Tensor[]) => recompute(xIn))([saved[0] as tf.Tensor, ...variables], dy);
          } finally {
            engineState.activeTape = outerTape;
            setStates(laterStates); // and the draws continue as if nothing had been recomputed
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
  const installed = model.blockFunction;
  installedWrappers.add(installed);
  return () => {
    if (model.blockFunction === installed) model.blockFunction = previous;
  };
}

/** Whether `model` runs its blocks through enableGradientCheckpointing's wrapper. */
export function isGradientCheckpointingEnabled(model: CausalLM): boolean {
  return model.blockFunction !== undefined && installedWrappers.has(model.blockFunction);
}

export function disableGradientCheckpointing(model: CausalLM): void {
  model.blockFunction = undefined;
}
