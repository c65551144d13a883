import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic, type CausalLM, type Tokenizer } from '@rlhfjs/core';
import { quantizeModel, type FourBitQuantType } from '@rlhfjs/lora';
import { generateCompletions } from '../../pipeline/generate_completions';
import { stringOption, type OptionSpec, type OptionValues } from '../option_spec';
import { readPrompts } from '../read_prompts';
import { loadPolicy } from './load_policy';
import { CONFIG_OPTION } from './shared_options';
import { summaryLine } from './train_run';

export const QUANTIZE_OPTIONS: readonly OptionSpec[] = [
  { key: 'model', flag: '--model <dir>', description: 'HF model directory', kind: 'path', required: true },
  { key: 'tokenizer', flag: '--tokenizer <dir>', description: 'tokenizer directory (for --eval-prompts); defaults to the model directory', kind: 'path' },
  { key: 'quantType', flag: '--quant-type <type>', description: '4-bit data type', kind: 'string', defaultValue: 'nf4', choices: ['nf4', 'fp4'] },
  { key: 'blockSize', flag: '--block-size <n>', description: 'values per absmax block (32, 64, …, 4096 as bitsandbytes)', kind: 'integer', defaultValue: 64, min: 1 },
  { key: 'doubleQuant', flag: '--double-quant', description: "also quantize the absmax values (QLoRA's double quantization)", kind: 'boolean', defaultValue: false },
  { key: 'skipModules', flag: '--skip-modules <names>', description: 'comma-separated modules kept in float32', kind: 'string', defaultValue: 'lm_head' },
  { key: 'evalPrompts', flag: '--eval-prompts <file>', description: 'compare logits and greedy completions before and after quantization on these prompts (JSONL "prompt" or one a line)', kind: 'path' },
  { key: 'maxNewTokens', flag: '--max-new-tokens <n>', description: 'greedy completion length for --eval-prompts', kind: 'integer', defaultValue: 16, min: 1 },
  { key: 'output', flag: '--output <file>', description: 'write the report as JSON here', kind: 'path' },
  CONFIG_OPTION,
];

/** Logits of every position of every prompt, one prompt at a time (no padding). [T, V] each, flattened. */
function promptLogits(model: CausalLM, tokenizer: Tokenizer, prompts: readonly string[]): Float32Array[] {
  return prompts.map((prompt) =>
    tf.tidy(() => {
      const ids = tokenizer.encode(prompt);
      const { logits } = model.forward({ inputIds: tf.tensor2d([ids], [1, ids.length], 'int32'), logits: 'all' }); // [1, T, V]
      return (logits as tf.Tensor).dataSync() as Float32Array;
    }),
  );
}

function argmaxRows(values: Float32Array, vocab: number): number[] {
  const rows: number[] = [];
  for (let start = 0; start < values.length; start += vocab) {
    let best = start;
    for (let i = start + 1; i < start + vocab; i++) if ((values[i] as number) > (values[best] as number)) best = i;
    rows.push(best - start);
  }
  return rows;
}

/**
 * `rlhfjs quantize`: quantizes a model's linear layers to 4 bits in memory (@rlhfjs/lora's `quantizeModel`,
 * bitsandbytes NF4/FP4 blockwise layout) and reports the weight memory before and after and, with
 * `--eval-prompts`, how far logits and greedy completions move. It writes no quantized checkpoint: core cannot
 * save 4-bit weights yet; train QLoRA adapters on the fly instead (quantize, then applyLora).
 */
export async function runQuantize(options: OptionValues, write: (text: string) => void): Promise<void> {
  const evalFile = stringOption(options, 'evalPrompts');
  const prompts = evalFile === undefined ? [] : await readPrompts(evalFile);
  const { model, tokenizer } = await loadPolicy(stringOption(options, 'model') as string, stringOption(options, 'tokenizer'));
  try {
    const generation = { maxNewTokens: options['maxNewTokens'] as number, doSample: false, seed: 0 };
    const before = promptLogits(model, tokenizer, prompts);
    const completionsBefore = generateCompletions(model, tokenizer, prompts, generation);
    const result = quantizeModel(model, {
      quantType: stringOption(options, 'quantType') as FourBitQuantType,
      blockSize: options['blockSize'] as number,
      doubleQuant: options['doubleQuant'] === true,
      skipModules: (stringOption(options, 'skipModules') ?? '').split(',').map((name) => name.trim()).filter((name) => name !== ''),
    });
    const report: Record<string, unknown> = {
      model: stringOption(options, 'model'),
      quantType: stringOption(options, 'quantType'),
      blockSize: options['blockSize'],
      doubleQuant: options['doubleQuant'] === true,
      modules: result.modules,
      float32WeightBytes: result.float32WeightBytes,
      quantizedWeightBytes: result.quantizedWeightBytes,
      compression: result.float32WeightBytes / Math.max(1, result.quantizedWeightBytes),
      saved: false,
      note: 'weights were quantized in memory only; 4-bit checkpoints cannot be saved yet',
    };
    const fields: Record<string, string | number> = {
      modules: result.modules.length,
      float32_bytes: result.float32WeightBytes,
      quantized_bytes: result.quantizedWeightBytes,
      compression: report['compression'] as number,
    };
    if (prompts.length > 0) {
      const after = promptLogits(model, tokenizer, prompts);
      const completionsAfter = generateCompletions(model, tokenizer, prompts, generation);
      const vocab = model.config.vocabSize;
      let maxAbs = 0;
      let sumAbs = 0;
      let count = 0;
      let agree = 0;
      let positions = 0;
      before.forEach((reference, index) => {
        const quantized = after[index] as Float32Array;
        for (let i = 0; i < reference.length; i++) {
          const difference = Math.abs((reference[i] as number) - (quantized[i] as number));
          maxAbs = Math.max(maxAbs, difference);
          sumAbs += difference;
          count++;
        }
        const a = argmaxRows(reference, vocab);
        const b = argmaxRows(quantized, vocab);
        a.forEach((token, position) => {
          agree += token === b[position] ? 1 : 0;
          positions++;
        });
      });
      const sameCompletions = completionsBefore.filter((text, i) => text === completionsAfter[i]).length / prompts.length;
      Object.assign(report, {
        prompts: prompts.length,
        logitsMaxAbsDifference: maxAbs,
        logitsMeanAbsDifference: sumAbs / Math.max(1, count),
        nextTokenAgreement: agree / Math.max(1, positions),
        identicalGreedyCompletions: sameCompletions,
        completions: prompts.map((prompt, i) => ({ prompt, float32: completionsBefore[i], quantized: completionsAfter[i] })),
      });
      Object.assign(fields, { logits_max_abs_diff: maxAbs, next_token_agreement: agree / Math.max(1, positions), identical_completions: sameCompletions });
    }
    const output = stringOption(options, 'output');
    if (output !== undefined) await writeFileAtomic(output, `${JSON.stringify(report, null, 2)}\n`);
    write(summaryLine('quantize', { ...fields, ...(output === undefined ? {} : { report: output }) }));
  } finally {
    model.dispose();
  }
}
