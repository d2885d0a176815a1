import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  allServices,
  eventually,
  openSse,
  Resources,
  requireTestDatabaseUrl,
  requireTestRedisUrl,
  serviceOrFail,
} from '@runtime-control/testkit';
import { startTestReplicas, type TestReplica } from '../../testing/replica.js';
import { booleanFlag, createTestApp, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';

/** `GET /api/admin/stream`: the console's live view — what each applied revision touched, keys only. */

interface AdminChange {
  revision: number;
  flags: string[];
  evaluators: string[];
  tokens: string[];
}

const SENTINEL = 'sentinel-9f3c1e7a-value';

describe('admin change stream', () => {
  const cleanup = new Resources();
  after(() => cleanup.closeAll());

  it('sends ready with the revision, then a change per write naming what it touched — never a value', async () => {
    const t = await createTestApp();
    cleanup.add(() => t.close());
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    const stream = await openSse(`${url}/api/admin/stream`, { headers: t.admin });
    cleanup.add(() => stream.close());
    const ready = await stream.waitFor((e) => e.event === 'ready', 5000);
    const start = (JSON.parse(ready.data) as { revision: number }).revision;

    const flag = booleanFlag('live-flag', { variants: { on: SENTINEL, off: 'plain' }, type: 'string' });
    const created = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: flag });
    assert.equal(created.statusCode, 201, created.body);
    const flagRevision = Number(JSON.parse(created.headers.etag as string));
    const change = await stream.waitFor((e) => e.event === 'change', 5000);
    assert.equal(change.id, String(flagRevision));
    assert.deepEqual(JSON.parse(change.data) as AdminChange, {
      revision: flagRevision,
      flags: ['live-flag'],
      evaluators: [],
      tokens: [],
    });
    assert.ok(flagRevision > start);

    await t.app.inject({
      method: 'PUT',
      url: '/api/admin/evaluators/testers',
      headers: t.admin,
      payload: { in: [{ var: 'targetingKey' }, [SENTINEL]] },
    });
    const token = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      headers: t.admin,
      payload: { kind: 'client', environment: 'production', name: 'live-view' },
    });
    const tokenId = token.json().id as string;
    const seen = await eventually(
      async () => {
        const changes = stream.events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data) as AdminChange);
        return changes.length >= 3 ? changes : undefined;
      },
      5000,
      'the evaluator and token changes',
      10,
    );
    assert.deepEqual(seen[1]?.evaluators, ['testers']);
    assert.deepEqual(seen[2]?.tokens, [tokenId]);
    const wire = stream.events.map((e) => e.data).join('\n');
    assert.doesNotMatch(wire, new RegExp(SENTINEL), 'no flag value or evaluator body on the stream');
    assert.doesNotMatch(wire, new RegExp(token.json().token as string), 'no token secret on the stream');

    // The console is not a client of flags: the clients view does not list it.
    const clients = await t.app.inject({ method: 'GET', url: '/api/admin/clients', headers: t.admin });
    assert.deepEqual(clients.json().clients, []);
  });

  it('refuses client tokens and missing tokens; an admin API token’s stream closes when it is revoked', async () => {
    const t = await createTestApp();
    cleanup.add(() => t.close());
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    await assert.rejects(openSse(`${url}/api/admin/stream`), /answered 401/);
    await assert.rejects(openSse(`${url}/api/admin/stream`, { headers: await t.clientHeaders('production') }), /403/);

    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      headers: t.admin,
      payload: { kind: 'admin', name: 'console-operator' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const stream = await openSse(`${url}/api/admin/stream`, {
      headers: { authorization: `Bearer ${created.json().token as string}` },
    });
    cleanup.add(() => stream.close());
    await stream.waitFor((e) => e.event === 'ready', 5000);
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/api/admin/tokens/${created.json().id as string}`,
      headers: t.admin,
    });
    assert.ok(revoked.statusCode < 300, revoked.body);
    await eventually(async () => stream.closed, 2000, 'the revoked token’s stream is closed', 10);
  });
});

describe(
  'admin change stream across replicas (PostgreSQL + Redis)',
  allServices(
    serviceOrFail('RC_TEST_DATABASE_URL', requireTestDatabaseUrl()),
    serviceOrFail('RC_TEST_REDIS_URL', requireTestRedisUrl()),
  ),
  () => {
    const cleanup = new Resources();
    after(() => cleanup.closeAll());

    it('a write on one replica reaches a console connected to the other', async () => {
      const [a, b] = (await startTestReplicas(cleanup, {
        prefix: 'rc_admin_stream',
        ids: ['console-a', 'console-b'],
        reconcileIntervalMs: 5000,
      })) as [TestReplica, TestReplica];
      const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const stream = await openSse(`${a.server.url}/api/admin/stream`, { headers: admin });
      cleanup.add(() => stream.close());
      await stream.waitFor((e) => e.event === 'ready', 5000);
      const res = await fetch(`${b.server.url}/api/admin/flags`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify(booleanFlag('from-replica-b')),
      });
      assert.equal(res.status, 201, await res.text());
      const change = await stream.waitFor((e) => e.event === 'change', 5000);
      assert.deepEqual((JSON.parse(change.data) as AdminChange).flags, ['from-replica-b']);
    });
  },
);
