#!/usr/bin/env node
// Runs every compiled test file (`packages/*/dist/**/*.test.js`, `examples/*/dist/**/*.test.js`) with node:test. Node 20 cannot glob `--test`
// arguments, so the files are found here. Under CI=true a skipped test fails the run: a suite that cannot reach
// its service must fail, never pass by skipping.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv.slice(2);

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    const s = statSync(p);
    if (s.isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = ['packages', 'examples']
  .flatMap((group) => readdirSync(join(root, group)).map((pkg) => join(root, group, pkg, 'dist')))
  .filter((d) => {
    try {
      return statSync(d).isDirectory();
    } catch {
      return false;
    }
  })
  .flatMap((d) => findTests(d))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error('no test files found; did `tsc -b` run?');
  process.exit(1);
}
console.error(`running ${files.length} test files:\n${files.map((f) => `  ${relative(root, f)}`).join('\n')}`);

// Test files share PostgreSQL/Redis and ports; a concurrency of 2 matches this machine's 2 cores.
const args = ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
let output = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  output += chunk.toString();
});
child.on('close', (code) => {
  // Node 20's summary does not count a skipped `describe`, so also count the spec reporter's skip marks.
  const summarySkipped = Number(/ℹ skipped (\d+)/.exec(output)?.[1] ?? 0);
  const markedSkipped = (output.match(/^\s*﹣ .*# /gm) ?? []).length;
  const skipped = Math.max(summarySkipped, markedSkipped);
  if (process.env.CI === 'true' && skipped > 0) {
    console.error(`\nCI=true: ${skipped} test(s) skipped; under CI every suite must run. Failing.`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
