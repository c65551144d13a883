// The miniature pipeline, run as its own process by mini_pipeline.test.ts (jest's module sandbox slows tfjs's
// typed-array paths about threefold; a plain node process runs the same code at full speed).
import { runDemo } from '../../src/pipeline/run_demo';

const outputRoot = process.argv[2];
if (outputRoot === undefined) throw new Error('usage: mini_pipeline_run.ts <outputRoot>');
// a smaller model (d 64, 2 layers) at half the demo's steps, the reward model at 28% and DPO at 30% of them, with
// higher SFT and DPO learning rates to make up; GRPO at 4× its iterations (20) and lr 1e-3, where 5 iterations at the
// demo lr left the small SFT policy where it was: about 65 s on 2 cores
runDemo({
  outputRoot,
  scale: 0.5,
  stageScales: { reward: 0.56, dpo: 0.6, grpo: 4 },
  evalPrompts: 60,
  progress: false,
  model: { hiddenSize: 64, numLayers: 2 },
  sftLearningRate: 8e-3,
  dpoLearningRate: 3e-4,
  grpoLearningRate: 1e-3,
  rewardBatchSize: 32, // the small policy's PPO needs the steadier reward model (16: PPO 0.208 < SFT 0.233)
}).then(
  (result) => console.log(`MINI_PIPELINE_RESULT ${JSON.stringify(result)}`),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
