#!/usr/bin/env node
import { main } from './index.js';

const exitCode = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
});
// exitCode, not exit(): lets pending stdout writes flush when piped.
process.exitCode = exitCode;
