#!/usr/bin/env node
// The `fat2019` command. The library is TypeScript run through tsx's require hook, so the
// same sources serve the CLI, the tests and the tslab notebooks without a build step.
'use strict';
require('tsx/cjs');
const { main } = require('../lib/cli/main.ts');
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`fat2019: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
