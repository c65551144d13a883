import { createCausalLM, generate, initBackend } from '@rlhfjs/core';
async function main(): Promise<void> {
  await initBackend({ backend: 'native' });
  const batch = Number(process.argv[2] ?? 1);
  const model = createCausalLM({ modelType: 'gpt2', vocabSize: 1024, hiddenSize: 256, numLayers: 4, numHeads: 4, maxPositions: 256 }, { seed: 0 });
  const prompts = Array.from({ length: batch }, (_, b) => Array.from({ length: 16 }, (__, t) => (b * 31 + t * 7) % 1024));
  generate(model, { inputIds: prompts }, { maxNewTokens: 4, doSample: true, seed: 0, stopTokenIds: [] });
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < 5; i++) generate(model, { inputIds: prompts }, { maxNewTokens: 112, doSample: true, seed: 0, stopTokenIds: [] });
  const cpu = process.cpuUsage(c0); const wall = performance.now() - t0;
  console.log(`b${batch}: wall ${(5 * 112 * batch / (wall / 1000)).toFixed(0)} tok/s; cpu ${(wall ? (cpu.user + cpu.system) / 1000 / (5 * 112) : 0).toFixed(3)} ms cpu/step, wall ${(wall / (5 * 112)).toFixed(3)} ms/step`);
}
void main();
