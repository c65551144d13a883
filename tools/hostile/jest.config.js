// The hostile-input suite's own tests (a few cases per area, run through the real child-process runner).
const preset = require('../../jest.preset.js')('hostile', __dirname);
module.exports = { ...preset, testMatch: ['<rootDir>/**/*.test.ts'] };
