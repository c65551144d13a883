#!/usr/bin/env node
// The `rlhfjs` CLI: runs the TypeScript entry through tsx's CommonJS hook.
'use strict';
const path = require('path');
// Resolve @rlhfjs/* to the workspace sources from any working directory (tsx reads tsconfig paths).
process.env.TSX_TSCONFIG_PATH = process.env.TSX_TSCONFIG_PATH || path.join(__dirname, '..', '..', '..', 'tsconfig.json');
require('tsx/cjs');
const { runCli, oneLineMessage } = require('../src/cli/main.ts');

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`error: ${oneLineMessage(error)}\n`);
    process.exitCode = 1;
  },
);
