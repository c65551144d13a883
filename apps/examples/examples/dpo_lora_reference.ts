// DPO with LoRA, where the reference policy is the same model with its adapters switched off:
// no second copy of the weights is needed. load → applyLora → DPOTrainer → a few steps → save the adapter.
//
//   npx tsx apps/examples/examples/dpo_lora_reference.ts [modelDir] [--steps 20] [--output DIR]
//
// Without modelDir it makes a tiny random Llama so the script runs offline in seconds.
import { initBackend, loadCausalLM, loadTokenizer, type PreferenceRecord } from '@rlhfjs/core';
import { DPOTrainer, type DpoMetrics } from '@rlhfjs/dpo';
import { applyLora, saveAdapter, withAdaptersDisabled } from '@rlhfjs/lora';
import { modelDirectory, outputDirectory, parseArguments, taskData } from './example_setup';

function report(label: string, metrics: DpoMetrics): void {
  const accuracy = metrics['rewards/accuracies'].toFixed(4);
  const margin = metrics['rewards/margins'].toFixed(4);
  console.log(`${label}: loss ${metrics.loss.toFixed(4)} rewards/accuracies ${accuracy} rewards/margins ${margin}`);
}

async function main(): Promise<void> {
  const args = parseArguments(20);
  console.log(`backend: ${await initBackend()}`);

  // 1. The policy: a (usually SFT-trained) checkpoint with fresh LoRA adapters. B starts at zero, so at step 0
  //    the policy equals the reference exactly: margins 0 and loss ln 2.
  const modelDir = await modelDirectory(args);
  const model = await loadCausalLM(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  applyLora(model, { r: 8, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], seed: 0 });

  // 2. Preference pairs {prompt, chosen, rejected} from the committed task data.
  const trainDataset = await taskData<PreferenceRecord>('preference_train');
  const evalDataset = await taskData<PreferenceRecord>('preference_heldout', 32);

  // 3. The reference is the policy with its adapters disabled: the trainer calls the `withAdaptersDisabled` we
  //    pass (dpo never imports lora itself); `saveModel` makes save() write only the adapter.
  const trainer = new DPOTrainer(
    {
      model,
      tokenizer,
      trainDataset,
      evalDataset,
      reference: { kind: 'adapters-disabled', withAdaptersDisabled: (fn) => withAdaptersDisabled(model, fn) },
      saveModel: (directory) => saveAdapter(model, directory),
    },
    { beta: 0.1, lossType: 'sigmoid', maxSteps: args.steps, batchSize: 8, learningRate: 1e-2, lrScheduler: 'constant', maxLength: 64, maxPromptLength: 32, progress: false },
  );

  // 4. Held-out preference accuracy and reward margins before and after training.
  report('heldout before', await trainer.evaluate());
  const result = await trainer.train();
  const last = result.history[result.history.length - 1];
  console.log(`trained ${result.history.length} steps, last train loss ${Number(last?.loss).toFixed(4)}`);
  report('heldout after', await trainer.evaluate());

  // 5. With adapters, save() writes a PEFT adapter directory plus the tokenizer.
  const outputDir = await outputDirectory(args, 'dpo-lora');
  await trainer.save(outputDir);
  console.log(`adapter saved to ${outputDir}`);
  trainer.dispose();
  model.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
