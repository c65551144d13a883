#!/usr/bin/env node
// Install hook of @rlhfjs/native: makes sure OpenBLAS's headers are there (apt-get install libopenblas-dev when
// running as root with apt; otherwise says what to install) and builds the N-API addon with node-gyp into
// build/. It never fails the install: without the addon the package only reports isNativeAvailable() === false.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const packageRoot = path.resolve(__dirname, '..');
const headerCandidates = [
  '/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h',
  '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h',
  '/usr/include/openblas/cblas.h',
];
const installHint = 'apt-get update && apt-get install -y libopenblas-dev   (Debian/Ubuntu, as root)';

function log(message) {
  console.log(`@rlhfjs/native: ${message}`);
}

function hasOpenBlas() {
  return headerCandidates.some((file) => fs.existsSync(file));
}

function commandExists(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function installOpenBlas() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !commandExists('apt-get')) {
    log(`OpenBLAS headers not found and cannot install them here (need root and apt-get). Install: ${installHint}`);
    return false;
  }
  log('installing libopenblas-dev with apt-get ...');
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', 'libopenblas-dev'], { stdio: 'inherit', env });
  } catch (error) {
    log(`apt-get install libopenblas-dev failed (${error.message}). Install it by hand: ${installHint}`);
    return false;
  }
  return hasOpenBlas();
}

/** node-gyp: the one npm ships (on PATH inside npm scripts, or beside npm's own CLI), else npx's. */
function nodeGypCommand() {
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules',
    'node-gyp', 'bin', 'node-gyp.js');
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) {
    return [process.execPath, process.env.npm_config_node_gyp];
  }
  if (fs.existsSync(bundled)) return [process.execPath, bundled];
  if (commandExists('node-gyp')) return ['node-gyp'];
  return null;
}

function buildAddon() {
  const command = nodeGypCommand();
  if (command === null) {
    log('node-gyp not found; the addon was not built (npm ships node-gyp; reinstall npm or `npm i -g node-gyp`).');
    return false;
  }
  const args = [...command.slice(1), 'rebuild'];
  // Build against the headers of the running node when they are installed beside it (no download needed).
  const nodeDir = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
  const result = spawnSync(command[0], args, { cwd: packageRoot, stdio: 'inherit' });
  if (result.status !== 0) {
    log('node-gyp build failed; the "native" backend will be unavailable (see the output above).');
    return false;
  }
  return true;
}

function main() {
  if (process.env.RLHFJS_NATIVE_SKIP_BUILD) {
    log('RLHFJS_NATIVE_SKIP_BUILD is set; not building the addon.');
    return;
  }
  if (process.platform !== 'linux') {
    log(`no build recipe for ${process.platform}; use the wasm or cpu backend.`);
    return;
  }
  if (!hasOpenBlas() && !installOpenBlas()) return;
  if (buildAddon()) log(`built ${path.join(packageRoot, 'build', 'Release', 'rlhfjs_native.node')}`);
}

try {
  main();
} catch (error) {
  log(`unexpected error while building the addon (${error && error.message}); continuing without it.`);
}
process.exitCode = 0;
