#!/usr/bin/env node
// Install hook of @rlhfjs/dist: builds the optional Gloo collective engine (build/Release/rlhfjs_gloo.node) over
// Debian's libgloo-dev with node-gyp. Installs libgloo-dev with apt-get when it is missing and we run as root
// with apt; otherwise says what to install. It never fails the install: without the addon the process group
// uses the pure-JS TCP ring and `isGlooAvailable()` is false.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const packageRoot = path.resolve(__dirname, '..');
const headerCandidates = ['/usr/include/gloo/rendezvous/context.h', '/usr/local/include/gloo/rendezvous/context.h'];
const installHint = 'apt-get update && apt-get install -y libgloo-dev   (Debian 12+/Ubuntu 23.04+, as root)';

function log(message) {
  console.log(`@rlhfjs/dist: ${message}`);
}

function hasGloo() {
  return headerCandidates.some((file) => fs.existsSync(file));
}

function commandExists(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function installGloo() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !commandExists('apt-get')) {
    log(`Gloo headers not found and cannot install them here (need root and apt-get). Install: ${installHint}`);
    return false;
  }
  log('installing libgloo-dev with apt-get ...');
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', 'libgloo-dev'], { stdio: 'inherit', env });
  } catch (error) {
    log(`apt-get install libgloo-dev failed (${error.message}). Install it by hand: ${installHint}`);
    return false;
  }
  return hasGloo();
}

/** node-gyp: the one npm ships (on PATH inside npm scripts, or beside npm's own CLI), else one on PATH. */
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
    log('node-gyp not found; the Gloo engine was not built (npm ships node-gyp; reinstall npm or `npm i -g node-gyp`).');
    return false;
  }
  const args = [...command.slice(1), 'rebuild'];
  // Build against the headers of the running node when they are installed beside it (no download needed).
  const nodeDir = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
  const result = spawnSync(command[0], args, { cwd: packageRoot, stdio: 'inherit' });
  if (result.status !== 0) {
    log('node-gyp build of the Gloo engine failed; collectives will use the TCP ring (see the output above).');
    return false;
  }
  return true;
}

function main() {
  if (process.env.RLHFJS_GLOO_SKIP_BUILD) {
    log('RLHFJS_GLOO_SKIP_BUILD is set; not building the Gloo engine (collectives use the TCP ring).');
    return;
  }
  if (process.platform !== 'linux') {
    log(`no Gloo build recipe for ${process.platform}; collectives use the TCP ring.`);
    return;
  }
  if (!hasGloo() && !installGloo()) {
    log('building without Gloo: collectives use the TCP ring.');
    return;
  }
  if (buildAddon()) log(`built ${path.join(packageRoot, 'build', 'Release', 'rlhfjs_gloo.node')}`);
}

try {
  main();
} catch (error) {
  log(`unexpected error while building the Gloo engine (${error && error.message}); continuing without it.`);
}
process.exitCode = 0;
