// QLoRA supervised fine-tuning of a Llama-family checkpoint directory:
// load → quantize the linear layers to NF4 → LoRA adapters on top → SFT a few steps → save a PEFT adapter.
//
//   npx tsx apps/examples/examples/qlora_sft_llama.ts [modelDir] [--steps 20] [--output DIR]
//
// Without modelDir it makes a tiny random Llama so the script runs offline in seconds.
import { initBackend, loadCausalLM, loadTokenizer, SFTTrainer, type SftRecord } from '@rlhfjs/core';
import { applyLora, quantizeModel, saveAdapter } from '@rlhfjs/lora';
import { modelDirectory, outputDirectory, parseArguments, taskData } from './example_setup';

async function main(): Promise<void> {
  const args = parseArguments(20);
  console.log(`backend: ${await initBackend()}`);

  // 1. The base model and its tokenizer, from one Hugging Face format directory.
  const modelDir = await modelDirectory(args);
  const model = await loadCausalLM(modelDir);
  const tokenizer = await loadTokenizer(modelDir);

  // 2. QLoRA: every linear layer except lm_head becomes a frozen 4-bit NF4 layer (double-quantized absmax) ...
  const quantized = quantizeModel(model, { quantType: 'nf4', blockSize: 64, doubleQuant: true });
  const ratio = quantized.quantizedWeightBytes / quantized.float32WeightBytes;
  console.log(`quantized ${quantized.modules.length} linear modules to nf4: ${(ratio * 100).toFixed(1)}% of their float32 bytes`);

  // ... and trainable LoRA adapters go on top of all of them. Only the adapters' A and B matrices train.
  const adapter = applyLora(model, { r: 8, alpha: 16, targetModules: 'all-linear', seed: 0 });
  let trainable = 0;
  for (const variable of model.trainableParameters().values()) trainable += variable.size;
  console.log(`lora adapters on ${adapter.modules.length} modules, ${trainable} trainable parameters`);

  // 3. The task's prompt/completion pairs; the loss covers completion tokens only (TRL's default).
  const trainDataset = await taskData<SftRecord>('sft_train');
  const evalDataset = await taskData<SftRecord>('sft_heldout', 32);
  const trainer = new SFTTrainer(
    { model, tokenizer, trainDataset, evalDataset },
    { maxSteps: args.steps, batchSize: 8, learningRate: 1e-2, lrScheduler: 'constant', maxLength: 64, progress: false },
  );

  // 4. Held-out loss before and after a few optimizer steps.
  const before = trainer.evaluateLoss();
  console.log(`heldout loss before: ${before.toFixed(4)}`);
  const result = await trainer.train();
  const last = result.history[result.history.length - 1];
  console.log(`trained ${result.history.length} steps, last train loss ${Number(last?.loss).toFixed(4)}`);
  const after = trainer.evaluateLoss();
  console.log(`heldout loss after: ${after.toFixed(4)}`);

  // 5. Only the adapter is saved (adapter_config.json + adapter_model.safetensors), loadable by PEFT.
  const outputDir = await outputDirectory(args, 'qlora-sft');
  await saveAdapter(model, outputDir);
  console.log(`adapter saved to ${outputDir}`);
  trainer.dispose();
  model.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
