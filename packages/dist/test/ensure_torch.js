// jest globalSetup of @rlhfjs/dist: the tests host a real PyTorch TCPStore with Debian's python3-torch.
// When `python3 -c 'import torch'` fails and we run as root with apt-get (CI: a fresh machine), install it,
// serialised with other installers through flock on /tmp/apt.lock. Otherwise say what to install; the tests
// that need torch then fail with that message (they are never skipped).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');

function torchPython() {
  if (process.env.RLHFJS_TORCH_PYTHON) return process.env.RLHFJS_TORCH_PYTHON;
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function hasTorch(python) {
  return spawnSync(python, ['-c', 'import torch.distributed'], { stdio: 'ignore' }).status === 0;
}

module.exports = async function ensureTorch() {
  const python = torchPython();
  if (hasTorch(python)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get && command -v flock'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    process.stderr.write(`@rlhfjs/dist tests: ${python} cannot import torch; install it: apt-get install -y python3-torch (as root)\n`);
    return;
  }
  process.stderr.write('@rlhfjs/dist tests: installing python3-torch with apt-get ...\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = 'apt-get install -y -qq python3-torch || (apt-get update -qq && apt-get install -y -qq python3-torch)';
  const result = spawnSync('flock', ['/tmp/apt.lock', 'sh', '-c', install], { stdio: 'inherit', env });
  if (result.status !== 0 || !hasTorch(python)) process.stderr.write('@rlhfjs/dist tests: installing python3-torch failed\n');
};

module.exports.torchPython = torchPython;
