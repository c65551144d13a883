module.exports = {
  projects: ['<rootDir>/packages/*/jest.config.js', '<rootDir>/apps/*/jest.config.js', '<rootDir>/tools/hostile/jest.config.js'],
  testTimeout: 120000,
};
