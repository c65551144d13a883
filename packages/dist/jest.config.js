module.exports = require('../../jest.preset.js')('dist', __dirname);
