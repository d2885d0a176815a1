import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, withTempDir } from '../test-support.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DEVMENTOR = join(ROOT, 'examples/devmentor/platform.yaml');
const FIXTURES = join(ROOT, 'packages/traffic/src/platform/fixtures');

interface JsonReport {
  file: string;
  ok: boolean;
  offline: boolean;
  service?: string;
  checks: {
    id: string;
    status: string;
    issues: { file: string; line: number; code: string; message: string; fix: string }[];
  }[];
}

describe('rctl secrets check (offline)', () => {
  it('passes the DevMentor file: each check PASS, manifests skipped, exit 0', async () => {
    const run = await runCli(['secrets', 'check', '--file', DEVMENTOR, '--offline']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    for (const id of ['kv-path', 'refresh-interval', 'env-provided', 'store-auth']) {
      assert.match(run.stdout, new RegExp(`^PASS {4}${id} `, 'm'));
    }
    assert.match(run.stdout, /^SKIP {4}manifests-api-version .*no --manifests DIR/m);
    assert.match(run.stdout, /Vault and the cluster are not contacted/);
    assert.match(run.stdout, /^4 passed, 0 failed, 1 skipped$/m);
  });

  for (const [fixture, id, code, line] of [
    ['secrets-kv-data-path.yaml', 'kv-path', 'KV_DATA_IN_PATH', 30],
    ['secrets-refresh-zero-with-rotation.yaml', 'refresh-interval', 'REFRESH_DISABLED_WITH_ROTATION', 46],
    ['secrets-env-not-provided.yaml', 'env-provided', 'ENV_NOT_PROVIDED', 50],
    ['secrets-store-auth-incomplete.yaml', 'store-auth', 'STORE_AUTH_INCOMPLETE', 36],
  ] as const) {
    it(`fails ${id} on fixtures/${fixture} with file:line, the fix in one line, exit 1 (text and --json)`, async () => {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, fixture), await readFile(join(FIXTURES, fixture), 'utf8'));
        const run = await runCli(['secrets', 'check', '--file', fixture], { cwd: dir });
        assert.equal(run.code, 1, run.stdout + run.stderr);
        assert.match(run.stdout, new RegExp(`^FAIL {4}${id} `, 'm'));
        assert.equal((run.stdout.match(/^FAIL /gm) ?? []).length, 1, run.stdout);
        assert.match(
          run.stdout,
          new RegExp(`^${fixture.replaceAll('.', '\\.')}:${line}: \\[${code}\\] .+\\n {2}fix: \\S.+$`, 'm'),
        );
        assert.match(run.stdout, /^3 passed, 1 failed, 1 skipped; fix the file/m);

        const json = await runCli(['secrets', 'check', '--file', fixture, '--json'], { cwd: dir });
        assert.equal(json.code, 1);
        const report = JSON.parse(json.stdout) as JsonReport;
        assert.equal(report.ok, false);
        assert.equal(report.offline, true);
        const failed = report.checks.filter((c) => c.status === 'fail');
        assert.deepEqual(
          failed.map((c) => [c.id, c.issues.map((i) => [i.file, i.line, i.code])]),
          [[id, [[fixture, line, code]]]],
        );
        assert.ok(failed[0]!.issues[0]!.fix.length > 0);
      });
    });
  }

  it('checks hand-written manifests with --manifests: v1beta1 fails at its line', async () => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'manifests'));
      await writeFile(
        join(dir, 'manifests/store.yaml'),
        'apiVersion: external-secrets.io/v1beta1\nkind: ClusterSecretStore\nmetadata: { name: devmentor-vault }\n',
      );
      const run = await runCli(['secrets', 'check', '--file', DEVMENTOR, '--manifests', 'manifests'], { cwd: dir });
      assert.equal(run.code, 1);
      assert.match(run.stdout, /^FAIL {4}manifests-api-version .*\(1 file\)$/m);
      assert.match(
        run.stdout,
        /^manifests\/store\.yaml:1: \[ESO_API_VERSION_UNSERVED\] ClusterSecretStore "devmentor-vault"/m,
      );
      assert.match(run.stdout, /^ {2}fix: set apiVersion: external-secrets\.io\/v1 /m);
      await writeFile(
        join(dir, 'manifests/store.yaml'),
        'apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: { name: devmentor-vault }\n',
      );
      const fixed = await runCli(['secrets', 'check', '--file', DEVMENTOR, '--manifests', 'manifests'], { cwd: dir });
      assert.equal(fixed.code, 0, fixed.stdout);
      assert.match(fixed.stdout, /^5 passed, 0 failed$/m);
    });
  });

  it('narrows to one service (the store is always checked); refuses a service the section does not list', async () => {
    await withTempDir(async (dir) => {
      const text = (await readFile(DEVMENTOR, 'utf8'))
        .replace('consumers: [ai-gateway, ai-gateway-v2]', 'consumers: [ai-gateway]')
        .replace('          audiences: [vault]', '');
      await writeFile(join(dir, 'p.yaml'), text);
      const all = JSON.parse((await runCli(['secrets', 'check', '--file', 'p.yaml', '--json'], { cwd: dir })).stdout);
      const codes = (r: JsonReport) => r.checks.flatMap((c) => c.issues.map((i) => i.code));
      assert.deepEqual(codes(all), ['ENV_NOT_PROVIDED', 'ENV_NOT_PROVIDED', 'STORE_AUTH_INCOMPLETE']);
      const one = await runCli(['secrets', 'check', 'project-service', '--file', 'p.yaml', '--json'], { cwd: dir });
      const report = JSON.parse(one.stdout) as JsonReport;
      assert.equal(report.service, 'project-service');
      assert.deepEqual(codes(report), ['STORE_AUTH_INCOMPLETE']);
      const unknown = await runCli(['secrets', 'check', 'billing', '--file', 'p.yaml'], { cwd: dir });
      assert.equal(unknown.code, 1);
      assert.match(
        unknown.stderr,
        /no service "billing" in the secrets section of p\.yaml \(services: auth-service, api-gateway, ai-gateway, project-service\)/,
      );
    });
  });

  it('reports an invalid platform file at its lines and runs no check; a file without secrets is an error', async () => {
    await withTempDir(async (dir) => {
      const text = (await readFile(DEVMENTOR, 'utf8')).replace('consumers: [project-service]', 'consumers: [projects]');
      await writeFile(join(dir, 'p.yaml'), text);
      const run = await runCli(['secrets', 'check', '--file', 'p.yaml'], { cwd: dir });
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^p\.yaml:\d+: \[UNKNOWN_DEPLOYMENT\] secrets: bundle "project-service\/database": consumer "projects"/m,
      );
      assert.match(run.stderr, /rctl: p\.yaml: the platform file is invalid \(1\); no check ran\./);
      assert.equal(run.stdout, '');
      const plain = await runCli(['secrets', 'check', '--file', join(FIXTURES, 'weights-not-100.yaml')]);
      assert.equal(plain.code, 1);
      assert.match(plain.stderr, /has no secrets section/);
    });
  });

  it('never prints a value pasted into the platform file or found in a manifest (render and check, text and JSON)', async () => {
    await withTempDir(async (dir) => {
      const sentinel = `rc-sentinel-${Math.random().toString(36).slice(2)}`;
      const text = (await readFile(DEVMENTOR, 'utf8')).replace(
        '{ REDIS_URL: REDIS_URL }',
        `{ REDIS_URL: ${sentinel} }`,
      );
      await writeFile(join(dir, 'p.yaml'), text);
      await mkdir(join(dir, 'k8s'));
      await writeFile(
        join(dir, 'k8s/secret.yaml'),
        `apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData: { REDIS_URL: ${sentinel} }\n---\napiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: { name: e }\n`,
      );
      const encoded = [sentinel, Buffer.from(sentinel).toString('base64'), Buffer.from(sentinel).toString('hex')];
      for (const argv of [
        ['secrets', 'check', '--file', 'p.yaml', '--manifests', 'k8s'],
        ['secrets', 'check', '--file', 'p.yaml', '--manifests', 'k8s', '--json'],
        ['render', 'p.yaml', '--out', 'out', '--manifests', 'k8s'],
        // A valid platform file: the manifests are read, the v1beta1 one reported, the Secret's data never quoted.
        ['secrets', 'check', '--file', DEVMENTOR, '--manifests', 'k8s', '--json'],
        ['render', DEVMENTOR, '--out', 'out', '--manifests', 'k8s'],
      ]) {
        const run = await runCli(argv, { cwd: dir });
        assert.equal(run.code, 1, argv.join(' '));
        assert.match(run.stdout + run.stderr, /REDIS_URL|ESO_API_VERSION_UNSERVED/, 'the problem is reported');
        for (const form of encoded)
          assert.ok(!(run.stdout + run.stderr).includes(form), `${argv.join(' ')} printed the value`);
      }
    });
  });

  it('usage: --file is required, unknown subcommands and options are usage errors (exit 2), help', async () => {
    const noFile = await runCli(['secrets', 'check']);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /missing --file PLATFORM_FILE/);
    const unknown = await runCli(['secrets', 'rotate-all']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown secrets command "rotate-all"/);
    const option = await runCli(['secrets', 'check', '--file', DEVMENTOR, '--cluster', 'x']);
    assert.equal(option.code, 2);
    const missing = await runCli(['secrets', 'check', '--file', 'missing.yaml']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read missing\.yaml: ENOENT/);
    const help = await runCli(['secrets', 'check', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: rctl secrets check \[SERVICE\] --file PLATFORM_FILE/);
    assert.equal((await runCli(['secrets'])).code, 2);
    assert.match((await runCli(['--help'])).stdout, /^ {2}secrets check /m);
  });
});
