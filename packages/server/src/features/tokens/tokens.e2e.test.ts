import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { booleanFlag, createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../../testing/test-app.js';

describe('tokens', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
    await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('k') });
  });
  afterEach(async () => t.close());

  it('creates a client token (201, shown once), scoped to one environment, accepted only by client endpoints', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      headers: t.admin,
      payload: { kind: 'client', environment: 'development' },
    });
    assert.equal(res.statusCode, 201);
    const created = res.json();
    assert.match(created.token, /^rc_client_/);
    assert.equal(created.environment, 'development');
    const client = { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' };

    const list = await t.app.inject({ method: 'GET', url: '/api/admin/tokens', headers: t.admin });
    assert.ok(!list.body.includes(created.token), 'the token secret is listed');
    assert.ok(!list.body.includes('hash'), 'the token hash is listed');

    const snapshot = await t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: client });
    assert.equal(snapshot.statusCode, 200);
    assert.equal(snapshot.json().flags.k.state, 'ENABLED');
    const viaApiKey = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/k',
      headers: { 'x-api-key': created.token, 'content-type': 'application/json' },
      payload: { context: { targetingKey: 'u' } },
    });
    assert.equal(viaApiKey.statusCode, 200);

    const onAdmin = await t.app.inject({ method: 'GET', url: '/api/admin/flags', headers: client });
    assert.equal(onAdmin.statusCode, 403);
    assert.equal(onAdmin.json().error.code, 'WRONG_TOKEN_KIND');

    const adminOnClient = await t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: t.admin });
    assert.equal(adminOnClient.statusCode, 403);
    assert.equal(adminOnClient.json().error.code, 'WRONG_TOKEN_KIND');

    const revoke = await t.app.inject({ method: 'DELETE', url: `/api/admin/tokens/${created.id}`, headers: t.admin });
    assert.equal(revoke.statusCode, 204);
    const after = await t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: client });
    assert.equal(after.statusCode, 401);
  });

  it('an environment-scoped token sees its environment only', async () => {
    await t.app.inject({
      method: 'PATCH',
      url: '/api/admin/flags/k/environments/production',
      headers: t.admin,
      payload: { state: 'DISABLED' },
    });
    const dev = await t.clientHeaders('development');
    const prod = await t.clientHeaders('production');
    const ev = async (headers: Record<string, string>) =>
      (
        await t.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/k', headers, payload: { context: {} } })
      ).json();
    assert.equal((await ev(dev)).reason, 'STATIC');
    assert.equal((await ev(prod)).reason, 'DISABLED');
  });

  it('rejects bad token requests with the field named and writes nothing', async () => {
    const before = await t.store.listTokens();
    for (const [payload, path] of [
      [{ kind: 'client' }, '/environment'],
      [{ kind: 'client', environment: 'staging' }, '/environment'],
      [{ kind: 'root' }, '/kind'],
      [{ kind: 'admin', environment: 'production' }, '/environment'],
      [{ kind: 'client', environment: 'production', extra: 1 }, '/extra'],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/api/admin/tokens', headers: t.admin, payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().error.path, path);
    }
    assert.deepEqual(await t.store.listTokens(), before);
    const missing = await t.app.inject({ method: 'DELETE', url: '/api/admin/tokens/nope', headers: t.admin });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'TOKEN_NOT_FOUND');
  });

  it('admin tokens created through the API work on the admin API and appear as the actor', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      headers: t.admin,
      payload: { kind: 'admin', name: 'ci' },
    });
    const headers = { authorization: `Bearer ${res.json().token}`, 'content-type': 'application/json' };
    const patch = await t.app.inject({
      method: 'PATCH',
      url: '/api/admin/flags/k/environments/development',
      headers,
      payload: { state: 'DISABLED' },
    });
    assert.equal(patch.statusCode, 200);
    const audit = await t.app.inject({ method: 'GET', url: '/api/admin/audit?actor=ci', headers });
    assert.equal(audit.json().records.length, 1);
  });
});

describe('secrets never leak', () => {
  it('a sentinel token appears in no log line, response, metric or audit record', async () => {
    const t = await createTestApp({ RC_LOG_LEVEL: 'trace' });
    try {
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens',
        headers: t.admin,
        payload: { kind: 'client', environment: 'production', name: 'sentinel-holder' },
      });
      const secret = created.json().token as string;
      const client = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
      const bodies: string[] = [];
      const calls = [
        t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('k') }),
        t.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/k', headers: client, payload: { context: {} } }),
        t.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags', headers: client, payload: { context: {} } }),
        t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: client }),
        t.app.inject({ method: 'GET', url: '/api/admin/flags', headers: client }),
        t.app.inject({ method: 'GET', url: '/api/admin/tokens', headers: t.admin }),
        t.app.inject({ method: 'GET', url: '/api/admin/audit', headers: t.admin }),
        t.app.inject({ method: 'GET', url: '/metrics' }),
        t.app.inject({ method: 'GET', url: '/api' }),
        t.app.inject({
          method: 'POST',
          url: '/api/admin/flags',
          headers: { authorization: `Bearer ${secret}x` },
          payload: '{',
        }),
      ];
      for (const res of await Promise.all(calls)) bodies.push(res.body, JSON.stringify(res.headers));
      const created2 = await t.store.queryAudit({ entityType: 'token' });
      const haystacks = [...bodies, ...t.logs, JSON.stringify(created2)];
      assert.ok(t.logs.length > 5, 'expected request logs at trace level');
      for (const sentinel of [secret, TEST_ADMIN_TOKEN]) {
        const leaks = haystacks.filter((h) => h.includes(sentinel));
        assert.deepEqual(leaks, [], `a secret leaked into ${leaks.length} place(s)`);
      }
    } finally {
      await t.close();
    }
  });
});
