import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { main } from '../index.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

async function rctl(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: {},
    cwd: REPO_ROOT,
  });
  return { code, stdout, stderr };
}

describe('rctl render control-plane', () => {
  it('writes one validated file per kind, and no secret value', async () => {
    const out = await mkdtemp(join(tmpdir(), 'rctl-control-plane-'));
    try {
      const run = await rctl([
        'render',
        'control-plane',
        '--out',
        out,
        '--image',
        'ghcr.io/devmentor/runtime-control:0.1.0',
        '--client-namespaces',
        'devmentor',
        '--admin-namespaces',
        'platform-ops',
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual((await readdir(out)).sort(), [
        'authorizationpolicy.yaml',
        'deployment.yaml',
        'external-secret.yaml',
        'networkpolicy.yaml',
        'poddisruptionbudget.yaml',
        'service.yaml',
        'serviceaccount.yaml',
        'servicemonitor.yaml',
      ]);
      const deployment = parse(await readFile(join(out, 'deployment.yaml'), 'utf8'));
      assert.equal(deployment.kind, 'Deployment');
      assert.equal(deployment.spec.template.spec.containers[0].image, 'ghcr.io/devmentor/runtime-control:0.1.0');
      assert.doesNotMatch(run.stderr, /not schema-checked/, 'every kind is checked against its schema');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('usage errors name the option and write nothing', async () => {
    const out = join(tmpdir(), `rctl-control-plane-never-${process.pid}`);
    const missing = await rctl(['render', 'control-plane', '--out', out, '--image', 'x:1']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--client-namespaces: name at least one namespace/);
    const bad = await rctl([
      'render',
      'control-plane',
      '--out',
      out,
      '--image',
      'x:1',
      '--client-namespaces',
      'devmentor',
      '--replicas',
      '1',
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--replicas: must be an integer from 2 to 50/);
    assert.equal(existsSync(out), false);
  });
});

describe('Dockerfile (not built here: no Docker daemon on these machines; checked as text)', () => {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));

  it('is multi-stage, on Node 20, and installs with npm ci, dropping development dependencies', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.equal(froms.length, 2);
    for (const f of froms) assert.match(f, /^FROM node:20-/);
    assert.match(text, /npm ci /);
    assert.match(text, /npm prune --omit=dev/);
    assert.match(text, /COPY --from=build/);
  });

  it('runs as a fixed non-root user, the one the rendered Deployment expects, and starts rctl up', () => {
    const user = lines.filter((l) => l.startsWith('USER '));
    assert.deepEqual(user, ['USER 10001:10001']);
    assert.match(text, /ENTRYPOINT \["node", "\/app\/packages\/cli\/dist\/bin\.js"\]/);
    assert.match(text, /CMD \["up"\]/);
    assert.ok(existsSync(join(REPO_ROOT, 'packages/cli/src/bin.ts')), 'the entry it runs is built from the repository');
    assert.match(text, /RC_MODE=production/);
  });

  it('.dockerignore keeps local builds, data and node_modules out of the context', () => {
    const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8');
    for (const entry of ['node_modules', '**/dist', '.runtime-control', '.git'])
      assert.ok(ignore.includes(entry), entry);
  });
});
