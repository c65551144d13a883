module.exports = require('../../jest.preset.js')('lora', __dirname);
