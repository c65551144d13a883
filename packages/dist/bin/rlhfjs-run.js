#!/usr/bin/env node
'use strict';
// rlhfjs-run: in the workspace (sources present) the TypeScript launcher via tsx, so an edited source is never
// shadowed by an older dist/ (the root `prepare` builds dist/ on `npm ci`); in an installed package (no src/) the
// compiled launcher.
const fs = require('node:fs');
const path = require('node:path');

const source = path.join(__dirname, '..', 'src', 'launcher', 'cli.ts');
const compiled = path.join(__dirname, '..', 'dist', 'launcher', 'cli.js');

function canResolve(specifier) {
  try {
    require.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

let cli;
if (fs.existsSync(source) && canResolve('tsx/cjs')) {
  // Resolve @rlhfjs/* to the workspace sources from any working directory (tsx reads tsconfig paths when it
  // registers); the variable is restored afterwards so that the launched workers see the caller's environment.
  const previous = process.env.TSX_TSCONFIG_PATH;
  process.env.TSX_TSCONFIG_PATH = previous || path.join(__dirname, '..', '..', '..', 'tsconfig.json');
  require('tsx/cjs');
  if (previous === undefined) delete process.env.TSX_TSCONFIG_PATH;
  cli = require(source);
} else {
  cli = require(compiled);
}
cli.runLauncherCli(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`rlhfjs-run: ${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
