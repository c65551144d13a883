module.exports = require('../../jest.preset.js')('reward', __dirname);
