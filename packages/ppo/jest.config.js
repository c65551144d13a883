module.exports = require('../../jest.preset.js')('ppo', __dirname);
