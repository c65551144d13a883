module.exports = require('../../jest.preset.js')('examples', __dirname);
