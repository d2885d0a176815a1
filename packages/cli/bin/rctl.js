#!/usr/bin/env node
// The `rctl` bin. npm links bins during `npm install` before the root `prepare` script compiles dist/, and npm 11
// skips a bin whose target is missing, so the bin is this committed file, which loads the compiled entry.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('rctl: the CLI is not built yet (no packages/cli/dist/bin.js); run `npm run build` first\n');
  process.exit(1);
}
await import(entry.href);
