import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** A stand-in server for the flag routes seed uses, recording each request (method, path, flags carried). */
async function fakeServer(
  answer: (method: string, path: string, body: unknown) => { status: number; body: unknown },
): Promise<{ url: string; requests: [string, string, number][]; close(): Promise<void> }> {
  const requests: [string, string, number][] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const body = text ? (JSON.parse(text) as unknown) : undefined;
      const flags = (body as { flags?: unknown[] } | undefined)?.flags;
      requests.push([req.method ?? '', req.url ?? '', Array.isArray(flags) ? flags.length : 0]);
      const reply = answer(req.method ?? '', req.url ?? '', body);
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

function flagsFile(count: number): string {
  const flags = Array.from({ length: count }, (_, i) => ({
    key: `flag-${i}`,
    type: 'boolean',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    environments: { production: { state: 'ENABLED' } },
  }));
  return JSON.stringify({ flags });
}

describe('rctl seed: the bulk route', () => {
  it('creates 1,200 flags in three bulk requests, reporting each flag as a single create would', async () => {
    const server = await fakeServer((method, path, body) => {
      assert.equal(`${method} ${path}`, 'POST /api/admin/flag-batches');
      const keys = (body as { flags: Flag[] }).flags.map((f) => f.key);
      // The server already has every flag whose number ends in 7.
      const existing = keys.filter((k) => k.endsWith('7'));
      return { status: 200, body: { revision: 1, created: keys.filter((k) => !k.endsWith('7')), existing } };
    });
    try {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, 'flags.json'), flagsFile(1200));
        const run = await runCli(['seed', 'flags.json', '--url', server.url, '--token', 'x'.repeat(32)], { cwd: dir });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(server.requests, [
          ['POST', '/api/admin/flag-batches', 500],
          ['POST', '/api/admin/flag-batches', 500],
          ['POST', '/api/admin/flag-batches', 200],
        ]);
        const lines = run.stdout.trim().split('\n');
        assert.equal(lines[0], 'created flag-0');
        assert.equal(lines[7], 'exists  flag-7 (left as is)');
        assert.equal(lines[1200], '1080 created, 120 already present, 0 updated');
      });
    } finally {
      await server.close();
    }
  });

  it('names the refused flag of a refused batch, with paths relative to it', async () => {
    const server = await fakeServer(() => ({
      status: 400,
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          message: '1 of 3 flags refused, nothing was written',
          path: '/flags/1/defaultVariant',
          details: [{ path: '/flags/1/defaultVariant', code: 'UNKNOWN_DEFAULT_VARIANT', message: 'not a variant' }],
        },
      },
    }));
    try {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, 'flags.json'), flagsFile(3));
        const run = await runCli(['seed', 'flags.json', '--url', server.url, '--token', 'x'.repeat(32)], { cwd: dir });
        assert.equal(run.code, 1);
        assert.match(run.stderr, /flag "flag-1": .*not a variant/);
        assert.match(run.stderr, /\/defaultVariant/);
        assert.doesNotMatch(run.stderr, /\/flags\/1/);
      });
    } finally {
      await server.close();
    }
  });

  it('creates one flag at a time on a server without the bulk route', async () => {
    const server = await fakeServer((method, path, body) => {
      if (path === '/api/admin/flag-batches') {
        return { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route for ${method} ${path}` } } };
      }
      const key = (body as Flag).key;
      if (key === 'flag-1') return { status: 409, body: { error: { code: 'FLAG_EXISTS', message: 'exists' } } };
      return { status: 201, body };
    });
    try {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, 'flags.json'), flagsFile(3));
        const run = await runCli(['seed', 'flags.json', '--url', server.url, '--token', 'x'.repeat(32)], { cwd: dir });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(
          server.requests.map(([m, p]) => `${m} ${p}`),
          ['POST /api/admin/flag-batches', 'POST /api/admin/flags', 'POST /api/admin/flags', 'POST /api/admin/flags'],
        );
        assert.match(run.stdout, /^2 created, 1 already present, 0 updated$/m);
      });
    } finally {
      await server.close();
    }
  });
});
