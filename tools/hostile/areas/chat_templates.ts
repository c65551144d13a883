import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, trainByteLevelBpe } from '@rlhfjs/core';
import type { HostileArea, HostileCase } from '../hostile_area';
import { Random } from '../random';

const MESSAGES = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi {{ not a template }} {% raw %}' },
  { role: 'assistant', content: 'Hello!' },
] as const;

const EXPECTED = 'expected.txt';

function caseFiles(template: string, expected?: string): Record<string, string> {
  const tokenizer = trainByteLevelBpe(['hello world'], { vocabSize: 270, specialTokens: ['<|endoftext|>'] });
  const config = { eos_token: '<|endoftext|>', chat_template: template };
  return { 'tokenizer.json': JSON.stringify(tokenizer), 'tokenizer_config.json': JSON.stringify(config), ...(expected === undefined ? {} : { [EXPECTED]: expected }) };
}

const CHATML = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

function structuredCases(): HostileCase[] {
  const refuse = (name: string, template: string): HostileCase => ({ name, expect: 'refuse', files: caseFiles(template) });
  const accept = (name: string, template: string, expected: string): HostileCase => ({ name, expect: 'accept', files: caseFiles(template, expected) });
  return [
    accept('ChatML', CHATML, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi {{ not a template }} {% raw %}<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n'),
    accept('loop.index and namespace', '{% set ns = namespace(n=0) %}{% for m in messages %}{{ loop.index }}{% set ns.n = ns.n + m.content | length %}{% endfor %}={{ ns.n }}', '123=48'),
    accept('range within limits', '{% for i in range(3) %}{{ i }}{% endfor %}', '012'),
    accept('empty template', '', ''),
    refuse('range(1e9)', '{% for i in range(1000000000) %}x{% endfor %}'),
    refuse('range(1e15) in an expression', '{{ range(1000000000000000) | length }}'),
    refuse('range with a float', '{% for i in range(1.5) %}x{% endfor %}'),
    refuse('range step 0', '{% for i in range(0, 10, 0) %}x{% endfor %}'),
    refuse('nested loops of 1e5 x 1e5', '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}'),
    refuse('three nested loops of 1000', '{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}'),
    refuse('string doubling', '{% set ns = namespace(s="x") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}'),
    refuse('list doubling', '{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}'),
    refuse('indent(1e9)', "{{ 'a\\nb' | indent(1000000000) }}"),
    refuse('center(1e9)', "{{ 'a' | center(1000000000) }}"),
    refuse('raise_exception', "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"),
    refuse('raise_exception with no message', '{{ raise_exception() }}'),
    refuse('recursive macro', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}'),
    refuse('mutually recursive macros', '{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}'),
    refuse('call of an undefined function', '{{ nothing() }}'),
    refuse('attribute of undefined called', '{{ messages.foo.bar() }}'),
    refuse('unknown filter', '{{ messages | nonsense }}'),
    refuse('unclosed for', '{% for m in messages %}{{ m.content }}'),
    refuse('unclosed expression', '{{ messages[0'),
    refuse('endfor without for', '{% endfor %}'),
    refuse('deeply nested parentheses', `{{ ${'('.repeat(20000)}1${')'.repeat(20000)} }}`),
    refuse('deeply nested ifs', `${'{% if true %}'.repeat(5000)}x${'{% endif %}'.repeat(5000)}`),
    refuse('division by zero', '{{ 1 // 0 }}{{ 1 % 0 }}'),
    refuse('huge exponent', '{{ 10 ** 100000 }}'),
    refuse('tojson of a huge indent', '{{ messages | tojson(indent=1000000000) }}'),
    refuse('string times a huge number', "{{ 'x' * 1000000000 }}"),
  ];
}

const FRAGMENTS = [
  '{% for m in messages %}', '{% endfor %}', '{% if add_generation_prompt %}', '{% else %}', '{% endif %}', '{{ m.content }}',
  "{{ m['role'] }}", '{{ eos_token }}', '{% set x = 1 %}', '{{ x + 1 }}', '{{ loop.index }}', '{{ messages | length }}', '{{ range(3) | list }}',
  "{{ raise_exception('no') }}", '{{', '}}', '{%', '%}', '(', ')', 'text', '{# c #}', "{{ 'a' ~ 'b' }}", '{% macro f() %}', '{% endmacro %}',
  '{{ f() }}', '{% for i in range(200) %}', '{{ messages[-1].content | upper }}', '{{ none }}', '{{ [1, 2][5] }}', '{{ {"a": 1}["b"] }}',
];

function randomCases(seed: number, count: number): HostileCase[] {
  const random = new Random(seed);
  const cases: HostileCase[] = [];
  for (let index = 0; index < count; index += 1) {
    const parts = Array.from({ length: 2 + random.below(10) }, () => random.pick(FRAGMENTS));
    const template = parts.join('');
    cases.push({ name: `random: ${template.length > 70 ? `${template.slice(0, 67)}...` : template}`, expect: 'either', files: caseFiles(template) });
  }
  return cases;
}

export const chatTemplatesArea: HostileArea = {
  name: 'chat templates',
  cases: (seed) => [...structuredCases(), ...randomCases(seed, 200)],
  async attempt(directory, hostileCase) {
    const tokenizer = await loadTokenizer(directory);
    const rendered = tokenizer.applyChatTemplate(MESSAGES, { addGenerationPrompt: true });
    if (hostileCase.files[EXPECTED] === undefined) return hostileCase.expect === 'refuse' ? [`rendered ${rendered.length} characters`] : [];
    const expected = readFileSync(join(directory, EXPECTED), 'utf8');
    return rendered === expected ? [] : [`rendered ${JSON.stringify(rendered.slice(0, 80))}, expected ${JSON.stringify(expected.slice(0, 80))}`];
  },
};
