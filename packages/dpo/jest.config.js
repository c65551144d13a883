module.exports = require('../../jest.preset.js')('dpo', __dirname);
