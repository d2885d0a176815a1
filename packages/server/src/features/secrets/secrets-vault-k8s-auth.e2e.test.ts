import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@runtime-control/testkit';
import {
  type DevmentorFakes,
  SERVER_SERVICE_ACCOUNT,
  SERVER_VAULT_AUDIENCE,
  SERVER_VAULT_ROLE,
  startDevmentorFakes,
} from '../../testing/secrets-fakes.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/**
 * The server logging in to Vault by Kubernetes auth (RC_VAULT_AUTH=kubernetes) against FakeVault (a fake: its login
 * accepts the service-account JWTs it issued, standing in for Vault's TokenReview; see docs/secrets.md "Test fakes"):
 * status and a rotation through all five steps with the role's token, the token renewed (`renew-self`) once 2/3 of
 * its TTL passed, a new login once its max TTL is reached, and neither the JWT nor a Vault token in any response or
 * log line.
 */

describe('secrets on Vault with Kubernetes auth (fakes)', () => {
  let fakes: DevmentorFakes;
  let dir: string;
  let jwt: string;
  let t: TestApp;
  const seen: string[] = [];

  // biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
  const api = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await t.app.inject({
      method,
      url: path,
      headers: t.admin,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    seen.push(res.body);
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  const vaultCalls = (path: string) =>
    fakes.vault.requests.filter((r) => r.path === path).map((r) => `${r.method} ${r.status}`);

  before(async () => {
    fakes = await startDevmentorFakes();
    // Short leases so renewal and re-login happen within the test: TTL 3 s (renewed after 2 s), max TTL 6 s.
    fakes.vault.writeKubernetesRole(SERVER_VAULT_ROLE, {
      boundServiceAccountNames: [SERVER_SERVICE_ACCOUNT.name],
      boundServiceAccountNamespaces: [SERVER_SERVICE_ACCOUNT.namespace],
      audience: SERVER_VAULT_AUDIENCE,
      policies: ['runtime-control'],
      ttlSeconds: 3,
      maxTtlSeconds: 6,
    });
    jwt = fakes.vault.issueServiceAccountJwt({
      namespace: SERVER_SERVICE_ACCOUNT.namespace,
      serviceAccount: SERVER_SERVICE_ACCOUNT.name,
      audiences: [SERVER_VAULT_AUDIENCE],
    });
    dir = await mkdtemp(join(tmpdir(), 'rc-secrets-k8s-auth-'));
    await writeFile(join(dir, 'sa-token'), `${jwt}\n`, { mode: 0o600 });
    const { RC_VAULT_TOKEN: _root, ...env } = fakes.env();
    t = await createTestApp({
      RC_DATA_DIR: dir,
      ...env,
      RC_VAULT_AUTH: 'kubernetes',
      RC_VAULT_K8S_ROLE: SERVER_VAULT_ROLE,
      RC_VAULT_K8S_TOKEN_FILE: join(dir, 'sa-token'),
      RC_LOG_LEVEL: 'debug',
    });
  });

  after(async () => {
    await t?.close();
    await fakes?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs in with the role, reads status and rotates through all five steps with its token', async () => {
    await eventually(
      async () =>
        (await api('GET', '/api/admin/secrets')).body.bundles.every((b: { state: string }) => b.state === 'in-sync'),
      15_000,
      'all in-sync',
    );
    // The fake ESO logs in at the same endpoint with its own role; the server's logins are counted by its auth (more
    // than one when the wait above outlasted the 6 s max TTL on a loaded machine). The server has no other token.
    assert.ok((t.rt.secrets.vaultAuthCounts?.logins ?? 0) >= 1);
    const sentinel = `redis://:${randomBytes(16).toString('base64url')}@cache:6379/2`;
    const started = await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: sentinel });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    let done: { status: string; version: number } | undefined;
    await eventually(
      async () => {
        done = (await api('GET', `/api/admin/secrets/api-gateway/redis/rotations/${started.body.id}`)).body;
        return done!.status !== 'running';
      },
      30_000,
      'rotation finished',
    );
    assert.equal(done!.status, 'completed', JSON.stringify(done));
    assert.equal(done!.version, 2);
    const secret = fakes.kube.get('Secret', 'devmentor-app', 'api-gateway-redis');
    assert.equal(Buffer.from(secret!.data!.REDIS_URL!, 'base64').toString('utf8'), sentinel);
    for (const text of [...seen, ...t.logs]) assert.ok(!text.includes(sentinel), 'the value in a response or log');
  });

  it('renews the token after 2/3 of its TTL and logs in again once the max TTL is reached', async () => {
    await eventually(
      async () => {
        await api('GET', '/api/admin/secrets/auth-service/jwt');
        // Only the server renews (the fake ESO logs in for every sync).
        return vaultCalls('auth/token/renew-self').includes('POST 200');
      },
      10_000,
      'renewed',
    );
    assert.ok((t.rt.secrets.vaultAuthCounts?.renewals ?? 0) >= 1);
    await eventually(
      async () => {
        const r = await api('GET', '/api/admin/secrets/auth-service/jwt');
        assert.equal(r.status, 200, 'status keeps working across renewals and logins');
        return (t.rt.secrets.vaultAuthCounts?.logins ?? 0) >= 2;
      },
      15_000,
      'logged in again after the max TTL',
    );
    for (const text of [...seen, ...t.logs]) {
      assert.ok(!text.includes(jwt), 'the service-account JWT in a response or log');
      assert.ok(!text.includes(jwt.split('.')[2]!), 'the JWT signature in a response or log');
      assert.ok(!/hvs\.[A-Za-z0-9_-]{10,}/.test(text), 'a Vault token in a response or log');
    }
  });
});
