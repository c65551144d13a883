#!/usr/bin/env node
'use strict';
// rlhfjs-run: the compiled launcher when the package is built, else (in the workspace) the TypeScript one via tsx.
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, '..', 'dist', 'launcher', 'cli.js');
let cli;
if (fs.existsSync(compiled)) {
  cli = require(compiled);
} else {
  require('tsx/cjs');
  cli = require(path.join(__dirname, '..', 'src', 'launcher', 'cli.ts'));
}
cli.runLauncherCli(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`rlhfjs-run: ${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
