import * as tf from '@tensorflow/tfjs';
import { createCausalLM } from '@rlhfjs/core';
import { matchesTarget, matchTargetModules, targetModulesForConfig } from './target_modules';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const llamaNames = (() => {
  const model = createCausalLM({ modelType: 'llama', vocabSize: 16, hiddenSize: 8, numLayers: 2, numHeads: 2, tieWordEmbeddings: false });
  const names = model.linearNames();
  model.dispose();
  return names;
})();

describe('target module matching (PEFT check_target_module_exists)', () => {
  it('matches exact names and dotted suffixes only', () => {
    expect(matchTargetModules(llamaNames, ['q_proj'])).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj']);
    expect(matchTargetModules(llamaNames, ['model.layers.1.mlp.down_proj'])).toEqual(['model.layers.1.mlp.down_proj']);
    expect(matchTargetModules(llamaNames, ['self_attn.v_proj', 'up_proj'])).toEqual([
      'model.layers.0.self_attn.v_proj',
      'model.layers.0.mlp.up_proj',
      'model.layers.1.self_attn.v_proj',
      'model.layers.1.mlp.up_proj',
    ]);
    expect(matchesTarget('model.layers.0.self_attn.q_proj', ['proj'])).toBe(false); // not a dotted suffix
    expect(matchesTarget('model.layers.0.self_attn.q_proj', ['_proj'])).toBe(false);
    expect(matchesTarget('lm_head', ['lm_head'])).toBe(true);
  });

  it('requires a RegExp to match the whole name', () => {
    expect(matchTargetModules(llamaNames, /.*\.1\.self_attn\.(q|k)_proj/)).toEqual(['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.k_proj']);
    expect(matchTargetModules(llamaNames, /q_proj/)).toEqual([]); // re.fullmatch, not re.search
    expect(matchTargetModules(llamaNames, /q_proj/g)).toEqual([]); // global flag does not make test stateful
  });

  it("'all-linear' takes every linear but the output head", () => {
    expect(llamaNames).toContain('lm_head');
    const all = matchTargetModules(llamaNames, 'all-linear');
    expect(all).toHaveLength(14);
    expect(all).not.toContain('lm_head');
    expect(targetModulesForConfig('all-linear', all)).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    expect(targetModulesForConfig(/a|b/, [])).toBe('a|b');
  });
});
