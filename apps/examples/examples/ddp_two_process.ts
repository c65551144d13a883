// Data-parallel SFT over two processes (DDP). The same file is both the launcher and every rank:
// run directly, it starts two copies of itself through `launch()` (as `rlhfjs-run --nproc-per-node 2` would);
// each copy sees RANK/WORLD_SIZE/MASTER_* in its environment, joins the process group and trains.
//
//   npx tsx apps/examples/examples/ddp_two_process.ts [modelDir] [--steps 10] [--output DIR]
//
// Without modelDir it makes a tiny random Llama so the script runs offline in seconds.
import { initBackend, loadCausalLM, loadTokenizer, SFTTrainer, type CausalLM, type SftRecord } from '@rlhfjs/core';
import { DistributedReducer, initProcessGroup, launch } from '@rlhfjs/dist';
import { modelDirectory, outputDirectory, parseArguments, taskData } from './example_setup';

/** Sum of |w| over all parameters in float64: equal on every rank only when the ranks hold the same weights. */
function checksum(model: CausalLM): number {
  let total = 0;
  for (const variable of model.namedParameters().values()) for (const value of variable.dataSync()) total += Math.abs(value);
  return total;
}

/** The launcher: prepare the shared inputs once, then start one process per rank and wait for all of them. */
async function launcher(): Promise<void> {
  const args = parseArguments(10);
  const modelDir = await modelDirectory(args);
  const outputDir = await outputDirectory(args, 'ddp-sft');
  const command = [process.execPath, '--import', 'tsx', __filename, modelDir, '--steps', String(args.steps), '--output', outputDir];
  const result = await launch({ nprocPerNode: 2, command });
  if (result.exitCode !== 0) console.error(`rank ${result.failedRank} failed with exit code ${result.exitCode}`);
  process.exitCode = result.exitCode;
}

/** One rank: join the group, start from rank 0's weights, train with gradients averaged across ranks. */
async function rank(): Promise<void> {
  const args = parseArguments(10);
  await initBackend();
  const group = await initProcessGroup(); // rank, world size and master address from the environment
  try {
    const reducer = new DistributedReducer(group);
    const model = await loadCausalLM(args.modelDir as string);
    const tokenizer = await loadTokenizer(args.modelDir as string);
    // Every rank starts from rank 0's weights (matters whenever initialisation is random, e.g. new heads).
    await reducer.broadcastParameters(model.namedParameters(), 0);

    // The trainer gives each rank its share of every global batch (4 per rank here, 8 in all), all-reduces the
    // gradients through the reducer and sums token counts across ranks, so 2 × 4 trains like 1 × 8.
    const trainDataset = await taskData<SftRecord>('sft_train');
    const trainer = new SFTTrainer(
      { model, tokenizer, trainDataset, reducer },
      { maxSteps: args.steps, batchSize: 4, learningRate: 3e-3, lrScheduler: 'constant', maxLength: 64, progress: false },
    );
    const result = await trainer.train();

    // Rank 0 reports and saves; every rank prints its weight checksum, which must agree after training.
    if (group.rank === 0) {
      for (const record of result.history) console.log(`step ${record.step}: loss ${Number(record.loss).toFixed(4)}`);
      await trainer.save(args.outputDir as string);
      console.log(`model saved to ${args.outputDir}`);
    }
    console.log(`rank ${group.rank}/${group.worldSize} weights checksum ${checksum(model).toFixed(6)}`);
    trainer.dispose();
    model.dispose();
    await group.barrier(); // nobody leaves while a peer still needs its sockets
  } finally {
    await group.destroy();
  }
}

(process.env.RANK === undefined ? launcher() : rank()).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
