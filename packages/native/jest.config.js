module.exports = require('../../jest.preset.js')('native', __dirname);
