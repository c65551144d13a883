// Shared jest settings: every package runs its TypeScript through ts-jest (transpile only; `npm run typecheck`
// checks types once for the whole workspace) and resolves @rlhfjs/* to the packages' sources.
const path = require('path');
const root = __dirname;
const names = ['core', 'lora', 'reward', 'ppo', 'dpo', 'dist', 'native'];
module.exports = (displayName, dir) => ({
  displayName,
  rootDir: dir,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(root, 'tsconfig.base.json'), isolatedModules: true, diagnostics: false }],
  },
  moduleNameMapper: Object.fromEntries(names.map((n) => [`^@rlhfjs/${n}$`, path.join(root, 'packages', n, 'src', 'index.ts')])),
});
