// Lint exists for one job the compiler cannot do: keep package boundaries as DESIGN.md draws them.
const nx = require('@nx/eslint-plugin');
const tsParser = require('@typescript-eslint/parser');

const allow = (scope, deps) => ({ sourceTag: `scope:${scope}`, onlyDependOnLibsWithTags: deps.map((d) => `scope:${d}`) });

module.exports = [
  { ignores: ['**/node_modules/**', 'packages/*/dist/**', 'apps/*/dist/**', '**/build/**', 'reports/**', 'runs/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tsParser, parserOptions: { ecmaVersion: 2022, sourceType: 'module' } },
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          // the CLI loads @rlhfjs/dist lazily, only for multi-process runs
          checkDynamicDependenciesExceptions: ['@rlhfjs/*'],
          depConstraints: [
            allow('core', []),
            allow('native', []),
            allow('lora', ['core']),
            allow('reward', ['core']),
            allow('dist', ['core']),
            allow('dpo', ['core', 'reward', 'dist', 'lora']),
            allow('ppo', ['core', 'reward', 'dist', 'lora']),
            allow('examples', ['core', 'lora', 'reward', 'dist', 'dpo', 'ppo', 'native']),
            // cross-package end-to-end tests (e.g. data-parallel training of every trainer) live in their own project
            allow('tests', ['core', 'lora', 'reward', 'dist', 'dpo', 'ppo', 'native']),
          ],
        },
      ],
    },
  },
  {
    // DESIGN: an algorithm package never imports lora or dist at run time; the caller passes withAdaptersDisabled,
    // saveModel or a reducer in (lora is only an optional peer, so a static import breaks `npm i @rlhfjs/dpo`).
    // Tests may use them.
    files: ['packages/dpo/src/**/*.ts', 'packages/ppo/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@rlhfjs/lora', message: 'pass withAdaptersDisabled / saveModel in from the caller (lora is an optional peer)' },
            { name: '@rlhfjs/dist', message: 'take a GradientReducer from the caller' },
          ],
        },
      ],
    },
  },
];
