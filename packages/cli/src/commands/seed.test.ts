import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Flag } from '@runtime-control/core';
import { diffJson } from '@runtime-control/core';
import { closedPort, runCli, withTempDir } from '../test-support.js';
import { comparableFlag, formatChanges } from './seed.js';

// Line 8 holds the variant of the wrong type; the test asserts that line number is reported.
const BAD_FLAGS_FILE = `flags:
  - key: fine
    type: boolean
    variants: { on: true, off: false }
    defaultVariant: off
  - key: broken
    type: boolean
    variants: { on: true, off: "nope" }
    defaultVariant: off
`;

describe('rctl seed: file problems', () => {
  it('reports a variant of the wrong type with file and line, writes nothing, exit 1', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'bad.yaml'), BAD_FLAGS_FILE);
      // A closed port: had the command tried to write, it would fail with "cannot reach" instead.
      const run = await runCli(['seed', 'bad.yaml', '--url', `http://127.0.0.1:${await closedPort()}`], {
        cwd: dir,
      });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^bad\.yaml:8:\d+: flag "broken": variant "off" must be a boolean \(got string\)/m);
      assert.match(run.stderr, /VARIANT_TYPE_MISMATCH/);
      assert.match(run.stderr, /1 problem; nothing was written/);
      assert.doesNotMatch(run.stderr, /cannot reach/);
      assert.equal(run.stdout, '');
    });
  });

  it('reports YAML syntax errors with their line', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'syntax.yaml'), 'flags:\n  - key: a\n    variants: { on: true\n');
      const run = await runCli(['seed', 'syntax.yaml'], { cwd: dir });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^syntax\.yaml:\d+:\d+: .*\[SYNTAX_ERROR\]/m);
    });
  });

  it('reports an unreadable file with its error code', async () => {
    await withTempDir(async (dir) => {
      const run = await runCli(['seed', 'missing.yaml'], { cwd: dir });
      assert.equal(run.code, 1);
      assert.equal(run.stderr.trim(), 'rctl: cannot read missing.yaml: ENOENT');
    });
  });
});

describe('comparableFlag', () => {
  const fileFlag: Flag = {
    key: 'k',
    type: 'boolean',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    environments: { development: { state: 'ENABLED' } },
  };

  it('ignores server-only fields and empty spellings of "nothing"', () => {
    const serverFlag = {
      ...fileFlag,
      sensitive: false,
      createdAt: '2025-01-01T00:00:00Z',
      updatedAt: '2025-01-02T00:00:00Z',
      environments: {
        development: { state: 'ENABLED', overrides: {}, targeting: null, rollout: null },
        production: { state: 'DISABLED' },
      },
    } as unknown as Flag;
    assert.deepEqual(comparableFlag(serverFlag), comparableFlag(fileFlag));
  });

  it('keeps real differences', () => {
    const changed: Flag = { ...fileFlag, environments: { development: { state: 'DISABLED' } } };
    const lines = formatChanges(diffJson(comparableFlag(fileFlag), comparableFlag(changed)));
    assert.deepEqual(lines, ['  - /environments/development: {"state":"ENABLED"}']);
  });
});

describe('formatChanges', () => {
  it('prints changed, added and removed values', () => {
    const lines = formatChanges(
      diffJson(
        { environments: { production: { state: 'DISABLED' } }, owner: 'a' },
        { environments: { production: { state: 'ENABLED' } }, description: 'd' },
      ),
    );
    assert.deepEqual(lines, [
      '  + /description: "d"',
      '  ~ /environments/production/state: "DISABLED" → "ENABLED"',
      '  - /owner: "a"',
    ]);
  });
});
