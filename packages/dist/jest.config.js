module.exports = {
  ...require('../../jest.preset.js')('dist', __dirname),
  // installs Debian's python3-torch when missing (the tests host a real PyTorch TCPStore)
  globalSetup: '<rootDir>/test/ensure_torch.js',
};
