import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs's engine the backward pass below drives (tfjs-core 4.x `Engine`, `TapeNode`). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T>(name: string, f: () => T): T;
}

/** The nodes on a path from one of `xs` to `y`, inputs pruned to those that depend on `xs` (tape order kept). */
function nodesFromXsToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      node.outputs.forEach((output) => fromX.add(output.id));
      nodesFromX.add(node.id);
    }
  }
  const leadToY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i] as TapeNode;
    if (node.outputs.some((output) => leadToY.has(output.id))) {
      Object.values(node.inputs).forEach((input) => leadToY.add(input.id));
      nodesToY.add(node.id);
    }
  }
  return tape.filter((node) => nodesFromX.has(node.id) && nodesToY.has(node.id)).map((node) => ({
    ...node,
    inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, input]) => fromX.has(input.id))),
  }));
}

/**
 * `tf.variableGrads` with a backward pass that frees memory as it goes: each tape node's saved activations and
 * its outputs' gradients are disposed as soon as the node has been differentiated (tfjs keeps every saved
 * activation and every intermediate gradient until the whole backward pass ends). Same results as
 * `tf.variableGrads`; nested inside another gradient computation it simply calls `tf.variableGrads`.
 */
export function variableGradsReleasing(f: () => tf.Scalar, variables: readonly tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth !== 0 || variables.length === 0) return tf.variableGrads(f, [...variables]);
  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
  const tape = engine.state.activeTape ?? [];
  try {
    if (!(y instanceof tf.Tensor) || y.rank !== 0) {
      if (y instanceof tf.Tensor) y.dispose();
      throw new Error(`variableGradsReleasing: f() must return a scalar tensor, got ${y instanceof tf.Tensor ? `shape [${y.shape}]` : typeof y}`);
    }
    const nodes = nodesFromXsToY(tape, variables, y);
    const gradients = engine.tidy('backward', () => {
      const accumulated = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
      const variableIds = new Set(variables.map((variable) => variable.id));
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i] as TapeNode;
        if (node.gradient === undefined) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const inputGradients = node.gradient(node.outputs.map((output) => accumulated.get(output.id) ?? null));
        for (const [inputName, input] of Object.entries(node.inputs)) {
          const gradientOf = inputGradients[inputName];
          if (gradientOf === undefined) throw new Error(`Cannot backprop through input ${inputName} of ${node.kernelName}.`);
          const dx = engine.tidy('gradient', gradientOf);
          if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, input.shape)) {
            throw new Error(`Error in gradient for op ${node.kernelName}: input '${inputName}' got a ${dx.dtype} gradient of shape [${dx.shape}] for shape [${input.shape}]`);
          }
          const previous = accumulated.get(input.id);
          accumulated.set(input.id, previous === undefined ? dx : tf.add(previous, dx));
          if (previous !== undefined) {
            previous.dispose();
            dx.dispose();
          }
        }
        // This node is done: free what only it needed.
        for (const tensor of node.saved ?? []) tensor.dispose();
        for (const output of node.outputs) {
          const gradient = accumulated.get(output.id);
          if (gradient === undefined || variableIds.has(output.id)) continue;
          accumulated.delete(output.id);
          // a gradient function may pass dy through unchanged: keep it while another entry still holds it
          if (![...accumulated.values()].includes(gradient)) gradient.dispose();
        }
      }
      return variables.map((variable) => accumulated.get(variable.id) ?? null);
    });
    const grads: tf.NamedTensorMap = {};
    variables.forEach((variable, i) => {
      const gradient = gradients[i];
      if (gradient !== null && gradient !== undefined) grads[variable.name] = gradient;
    });
    return { value: y, grads };
  } finally {
    for (const node of tape) for (const tensor of node.saved ?? []) tensor.dispose();
    engine.state.activeTape = null;
  }
}
