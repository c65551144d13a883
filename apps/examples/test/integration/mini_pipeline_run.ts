// The miniature pipeline, run as its own process by mini_pipeline.test.ts (jest's module sandbox slows tfjs's
// typed-array paths about threefold; a plain node process runs the same code at full speed).
import { runDemo } from '../../src/pipeline/run_demo';

const outputRoot = process.argv[2];
if (outputRoot === undefined) throw new Error('usage: mini_pipeline_run.ts <outputRoot>');
// a smaller model (d 64, 2 layers) at 70% of the demo's steps: about 80 s on 2 cores
runDemo({ outputRoot, scale: 0.7, evalPrompts: 60, progress: false, model: { hiddenSize: 64, numLayers: 2 }, sftLearningRate: 4e-3 }).then(
  (result) => console.log(`MINI_PIPELINE_RESULT ${JSON.stringify(result)}`),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
