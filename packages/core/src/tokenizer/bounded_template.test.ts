import { Template } from '@huggingface/jinja';
import { ConfigError, TokenizerError } from '../errors/errors';
import { renderBoundedTemplate, resolveTemplateLimitConfig } from './bounded_template';
import { Tokenizer } from './tokenizer';
import { trainByteLevelBpe } from './train_bpe';

const json = trainByteLevelBpe(['hello world', 'the user said hi'], { vocabSize: 280, specialTokens: ['<|endoftext|>'] });

function tokenizerWith(chatTemplate: string): Tokenizer {
  return new Tokenizer(json, { eos_token: '<|endoftext|>', chat_template: chatTemplate }, '/models/hostile');
}

function renderError(chatTemplate: string, limits?: { maxSteps?: number; maxOutputChars?: number }): TokenizerError {
  try {
    tokenizerWith(chatTemplate).applyChatTemplate([{ role: 'user', content: 'hi' }], { limits });
  } catch (error) {
    if (error instanceof TokenizerError) return error;
    throw error;
  }
  throw new Error('expected a TokenizerError');
}

describe('chat templates under limits', () => {
  it('renders an ordinary template as @huggingface/jinja does', () => {
    const template = "{% for m in messages %}<{{ m['role'] }}>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
    const messages = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] as const;
    const expected = new Template(template).render({ messages, add_generation_prompt: true, eos_token: '<|endoftext|>' });
    expect(tokenizerWith(template).applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(expected);
    expect(expected).toBe('<user>hi<|endoftext|><assistant>hello<|endoftext|><assistant>');
  });

  it('keeps range(), namespace, loop variables and the none/true spellings working', () => {
    const template = '{% set ns = namespace(n=0) %}{% for i in range(1, 7, 2) %}{{ i }}{% set ns.n = ns.n + i %}{% if loop.last %}={{ ns.n }}{% endif %}{% endfor %}{{ none is none }}{{ True }}{{ range(5, 0, -2) | join(",") }}';
    expect(tokenizerWith(template).applyChatTemplate([])).toBe('135=9truetrue5,3,1');
  });

  it('refuses range(1e9) before building it, naming the template', () => {
    const error = renderError('{% for i in range(1000000000) %}x{% endfor %}');
    expect(error.message).toContain('/models/hostile/tokenizer_config.json (chat_template)');
    expect(error.message).toContain('range() of 1000000000 elements');
  });

  it('stops nested loops at maxSteps', () => {
    // Each of these ranges fits the limit; their product does not.
    const error = renderError('{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}', { maxSteps: 20000 });
    expect(error.message).toMatch(/passed maxSteps = 20000 /);
    expect(renderError('{% for i in range(100) %}{{ i }}{% endfor %}', { maxSteps: 50 }).message).toMatch(/maxSteps = 50\b/);
  });

  it('counts the iterations of loops with empty bodies', () => {
    const error = renderError('{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}', { maxSteps: 20000 });
    expect(error.message).toMatch(/passed maxSteps = 20000 /);
  });

  it('refuses a division by zero instead of rendering Infinity', () => {
    expect(renderError('{{ 1 // 0 }}').message).toMatch(/arithmetic gave (Infinity|NaN)/);
  });

  it('stops a string that doubles in a loop at maxOutputChars', () => {
    const error = renderError('{% set ns = namespace(s="x") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}', { maxOutputChars: 1 << 20 });
    expect(error.message).toMatch(/passed maxOutputChars = 1048576/);
    const list = renderError('{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}', { maxOutputChars: 1 << 20 });
    expect(list.message).toMatch(/a list of 2097152 elements passed maxOutputChars/);
  });

  it('turns raise_exception into a TokenizerError carrying the message', () => {
    const error = renderError("{% if messages[0]['role'] == 'user' %}{{ raise_exception('Conversation roles must alternate user/assistant') }}{% endif %}");
    expect(error.message).toContain('raise_exception: Conversation roles must alternate user/assistant');
  });

  it('wraps interpreter errors and runaway macro recursion', () => {
    expect(renderError('{{ messages.foo.bar.baz() }}')).toBeInstanceOf(TokenizerError);
    expect(renderError('{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}')).toBeInstanceOf(TokenizerError);
  });

  it('validates its limits', () => {
    expect(() => resolveTemplateLimitConfig({ maxSteps: 0, maxOutputChars: 1.5 })).toThrow(ConfigError);
    expect(() => renderBoundedTemplate(new Template('{{ 1 }}'), {}, 't', resolveTemplateLimitConfig({ maxSteps: -1 }))).toThrow(/maxSteps must be a positive integer/);
  });
});
