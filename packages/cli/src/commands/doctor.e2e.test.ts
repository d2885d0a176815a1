import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../index.js';
import type { DoctorCheck } from './doctor.js';

/**
 * `rctl doctor` against a real server: a healthy set-up passes, and each runbook §7 failure is found from a fixture,
 * with its evidence and a one-line fix.
 */

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const FIXTURES = join(REPO_ROOT, 'packages/traffic/src/platform/fixtures');
const ADMIN = 'rc-doctor-test-admin-token-0123456789';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('rctl doctor', () => {
  let dataDir: string;
  let server: { url: string; close(): Promise<void> };
  const streams: AbortController[] = [];

  async function rctl(argv: string[], env: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await main(argv, {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      env: { RC_URL: server.url, RC_TOKEN: ADMIN, USER: 'doctor-test', ...env },
      cwd: REPO_ROOT,
    });
    return { code, stdout, stderr };
  }

  async function doctorJson(argv: string[], env: Record<string, string> = {}) {
    const run = await rctl(['doctor', ...argv, '--json'], env);
    const report = JSON.parse(run.stdout) as { ok: boolean; checks: DoctorCheck[] };
    return { ...run, report, check: (name: string) => report.checks.find((c) => c.name === name) };
  }

  async function admin(method: string, path: string, body?: unknown) {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** Connects a client stream naming itself `app`, with a client token for `environment`. */
  async function connect(app: string, environment: string) {
    const { token } = await admin('POST', '/api/admin/tokens', { kind: 'client', environment, name: `${app}-token` });
    const controller = new AbortController();
    streams.push(controller);
    const res = await fetch(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${token}`, 'x-rc-app': app },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rctl-doctor-'));
    const { startServer } = await import('@runtime-control/server');
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      seedFile: join(REPO_ROOT, 'examples/devmentor/flags.yaml'),
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    await connect('api-gateway', 'development');
    await connect('ai-gateway', 'production');
  });

  after(async () => {
    for (const c of streams) c.abort();
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('passes on a healthy set-up: server, token, the service connected on the latest revision, the flag enabled', async () => {
    const run = await rctl([
      'doctor',
      '--service',
      'api-gateway',
      '--flag',
      'new-ui-enabled',
      '--env',
      'development',
      '--platform',
      'examples/devmentor/platform.yaml',
    ]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^Flags not toggling$/m);
    assert.match(run.stdout, /ok {4}server reachable: http:\/\/127\.0\.0\.1:\d+: Runtime Control/);
    assert.match(
      run.stdout,
      /ok {4}api-gateway connected: 1 stream\(s\), environment development, token api-gateway-token/,
    );
    assert.match(run.stdout, /ok {4}api-gateway on the latest revision/);
    assert.match(run.stdout, /ok {4}flag new-ui-enabled in development: state ENABLED/);
    assert.match(run.stdout, /ok {4}canary in progress: canaries are off on this server/);
    assert.match(run.stdout, /^Traffic not splitting$/m);
    assert.match(run.stdout, /^Sidecars missing$/m);
    assert.match(run.stdout, /^ExternalSecret stuck pending$/m, 'the secrets section is checked too');
    assert.match(run.stdout, /all \d+ checks passed/);
    assert.doesNotMatch(run.stdout, /FAIL/);
  });

  it('a server that does not answer: fails at once with the fix', async () => {
    const run = await doctorJson([], { RC_URL: `http://127.0.0.1:${await freePort()}` });
    assert.equal(run.code, 1);
    assert.equal(run.report.ok, false);
    assert.deepEqual(
      run.report.checks.map((c) => [c.name, c.status]),
      [['server reachable', 'fail']],
    );
    assert.match(run.check('server reachable')?.fix ?? '', /npx rctl up/);
  });

  it('a wrong admin token is named', async () => {
    const run = await doctorJson([], { RC_TOKEN: 'not-the-admin-token-0123456789' });
    assert.equal(run.code, 1);
    assert.equal(run.check('admin token')?.status, 'fail');
    assert.match(run.check('admin token')?.evidence ?? '', /401/);
  });

  it('a service that is not connected: fails and lists who is', async () => {
    const run = await doctorJson(['--service', 'project-service']);
    assert.equal(run.code, 1);
    const check = run.check('project-service connected');
    assert.equal(check?.status, 'fail');
    assert.match(check?.evidence ?? '', /no stream or OFREP caller from "project-service".*connected: .*api-gateway/);
    assert.match(check?.fix ?? '', /appName 'project-service'/);
  });

  it('an OFREP caller that polls (no stream) and names itself counts as connected', async () => {
    const { token } = await admin('POST', '/api/admin/tokens', {
      kind: 'client',
      environment: 'development',
      name: 'project-service-token',
    });
    const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-rc-app': 'project-service' },
      body: '{"context":{}}',
    });
    assert.equal(res.status, 200);
    // A change after its poll: a polling caller catches up at its next poll, so it is not reported as behind.
    await admin('POST', '/api/admin/flags', {
      key: 'doctor-poll-change',
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      environments: { development: { state: 'ENABLED' } },
    });
    const listed = (await admin('GET', '/api/admin/clients?app=project-service')) as {
      clients: { upToDate: boolean | null }[];
    };
    assert.equal(listed.clients[0]?.upToDate, false, 'behind since the change');
    const run = await doctorJson(['--service', 'project-service', '--env', 'development']);
    assert.equal(run.check('project-service connected')?.status, 'pass', JSON.stringify(run.report));
    assert.match(
      run.check('project-service connected')?.evidence ?? '',
      /^1 polling OFREP caller\(s\), environment development/,
    );
    assert.equal(run.check('project-service on the latest revision')?.status, 'pass');
  });

  it('a service connected with a token for another environment: fails with the token to create', async () => {
    const run = await doctorJson(['--service', 'ai-gateway', '--env', 'development']);
    assert.equal(run.code, 1);
    const check = run.check('ai-gateway connected');
    assert.equal(check?.status, 'fail');
    assert.match(check?.fix ?? '', /rctl tokens create --kind client --env development/);
  });

  it('a disabled flag and an unknown flag: each fails with its fix', async () => {
    await admin('PATCH', '/api/admin/flags/ai-safety-pii/environments/development', { state: 'DISABLED' });
    const disabled = await doctorJson(['--service', 'api-gateway', '--flag', 'ai-safety-pii']);
    assert.equal(disabled.code, 1);
    const check = disabled.check('flag ai-safety-pii in development');
    assert.equal(check?.status, 'fail', 'the environment is the one the service is connected to');
    assert.equal(check?.evidence, 'state DISABLED');
    assert.equal(check?.fix, 'rctl flags enable ai-safety-pii --env development');

    const unknown = await doctorJson(['--flag', 'no-such-flag']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.check('flag no-such-flag')?.evidence, 'no such flag');
  });

  for (const [fixture, section, code] of [
    ['subset-matches-no-deployment.yaml', 'traffic', 'SUBSET_MATCHES_NO_DEPLOYMENT'],
    ['weights-not-100.yaml', 'traffic', 'WEIGHTS_NOT_100'],
    ['header-route-after-weighted.yaml', 'traffic', 'HEADER_ROUTE_AFTER_WEIGHTED_ROUTE'],
    ['namespace-injection-disabled.yaml', 'sidecars', 'NAMESPACE_INJECTION_DISABLED'],
    ['secrets-kv-data-path.yaml', 'secrets', 'KV_DATA_IN_PATH'],
    ['secrets-refresh-zero-with-rotation.yaml', 'secrets', 'REFRESH_DISABLED_WITH_ROTATION'],
    ['secrets-env-not-provided.yaml', 'secrets', 'ENV_NOT_PROVIDED'],
    ['secrets-store-auth-incomplete.yaml', 'secrets', 'STORE_AUTH_INCOMPLETE'],
  ] as const) {
    it(`finds ${code} (${section}) from the platform file ${fixture}`, async () => {
      const run = await doctorJson(['--platform', join(FIXTURES, fixture)]);
      assert.equal(run.code, 1);
      const failed = run.report.checks.filter((c) => c.status === 'fail');
      assert.deepEqual(
        failed.map((c) => [c.section, c.name]),
        [[section, code]],
      );
      assert.match(failed[0]?.evidence ?? '', new RegExp(`${fixture}:\\d+: `));
      assert.ok((failed[0]?.fix ?? '').length > 0);
    });
  }

  it('an invalid platform file is one failing check, not a crash; usage errors exit 2', async () => {
    const run = await doctorJson(['--platform', join(FIXTURES, '..', 'platform-file.ts')]);
    assert.equal(run.code, 1);
    assert.equal(run.check('platform file valid')?.status, 'fail');
    const missing = await rctl(['doctor', '--platform', 'no/such/file.yaml']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read/);
    const stray = await rctl(['doctor', 'extra']);
    assert.equal(stray.code, 2);
  });
});
