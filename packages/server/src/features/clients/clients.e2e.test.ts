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

/** `GET /api/admin/clients`: who is connected, on this replica (live) and on the others (their reports). */

interface ListedClient {
  replica: string;
  kind: string;
  transport: string;
  app: string | null;
  instance: string | null;
  agent: string | null;
  environment: string;
  token: { id: string | null; name: string | null };
  connectedSince: string;
  lastSeen: string | null;
  lastRevision: number | null;
  environmentRevision: number | null;
  upToDate: boolean | null;
}

interface ClientsView {
  clients: ListedClient[];
  replicas: { id: string; self: boolean; connections: number; truncated: number }[];
}

describe('clients view', () => {
  const cleanup = new Resources();
  after(() => cleanup.closeAll());

  it('lists each stream with what the client said, its token and revision; follows changes; forgets closed streams', async () => {
    const t = await createTestApp({ RC_REPLICA_ID: 'replica-one' });
    cleanup.add(() => t.close());
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address() as { port: number };
    const url = `http://127.0.0.1:${address.port}`;
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      headers: t.admin,
      payload: { kind: 'client', environment: 'production', name: 'api-gateway-prod' },
    });
    const token = created.json().token as string;
    const list = async (query = '') => {
      const res = await t.app.inject({ method: 'GET', url: `/api/admin/clients${query}`, headers: t.admin });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as ClientsView;
    };
    assert.deepEqual((await list()).clients, []);

    const sdk = await openSse(`${url}/api/client/stream`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-rc-app': 'api-gateway',
        'x-rc-instance': 'pod-7f9c/1',
        'user-agent': 'runtime-control-sdk/0.1.0 node/20.20.2',
      },
    });
    cleanup.add(() => sdk.close());
    await sdk.waitFor((e) => e.event === 'snapshot', 5000);
    const anonymous = await openSse(`${url}/api/client/stream`, {
      headers: { authorization: `Bearer ${token}`, 'x-rc-app': 'caf\u00e9', 'user-agent': 'x'.repeat(500) },
    });
    cleanup.add(() => anonymous.close());
    await anonymous.waitFor((e) => e.event === 'snapshot', 5000);

    let view = await list();
    assert.equal(view.replicas.length, 1);
    assert.deepEqual(
      { id: view.replicas[0]?.id, self: view.replicas[0]?.self, connections: view.replicas[0]?.connections },
      { id: 'replica-one', self: true, connections: 2 },
    );
    const gateway = view.clients.find((c) => c.app === 'api-gateway');
    assert.ok(gateway, JSON.stringify(view.clients));
    assert.equal(gateway.kind, 'sdk');
    assert.equal(gateway.instance, 'pod-7f9c/1');
    assert.equal(gateway.agent, 'runtime-control-sdk/0.1.0 node/20.20.2');
    assert.equal(gateway.environment, 'production');
    assert.equal(gateway.token.name, 'api-gateway-prod');
    assert.equal(gateway.replica, 'replica-one');
    assert.equal(gateway.upToDate, true);
    assert.equal(gateway.lastRevision, gateway.environmentRevision);
    const other = view.clients.find((c) => c !== gateway);
    assert.equal(other?.app, null, 'a header beyond printable ASCII is not shown');
    assert.equal(other?.agent?.length, 120, 'a long user agent is cut');

    // A change moves both streams to the new revision.
    const before = gateway.lastRevision ?? -1;
    const write = await t.app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: t.admin,
      payload: booleanFlag('clients-view-flag'),
    });
    assert.equal(write.statusCode, 201, write.body);
    await sdk.waitFor((e) => e.event === 'change', 5000);
    view = await list('?app=api-gateway');
    assert.equal(view.clients.length, 1, 'filtered by app');
    assert.ok((view.clients[0]?.lastRevision ?? -1) > before);
    assert.equal(view.clients[0]?.upToDate, true);
    assert.equal((await list('?environment=development')).clients.length, 0, 'filtered by environment');

    anonymous.close();
    await eventually(async () => (await list()).clients.length === 1, 5000, 'a closed stream leaves the view', 20);
  });

  it('lists OFREP callers that poll without a stream: who, token, last seen and the revision they were answered from', async () => {
    const t = await createTestApp({ RC_REPLICA_ID: 'replica-poll' });
    cleanup.add(() => t.close());
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      headers: t.admin,
      payload: { kind: 'client', environment: 'production', name: 'billing-prod' },
    });
    const auth = { authorization: `Bearer ${created.json().token as string}` };
    await t.app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: t.admin,
      payload: booleanFlag('poll-flag'),
    });
    const evaluate = (url: string, headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url, headers: { ...auth, ...headers }, payload: { context: {} } });
    const billing = { 'user-agent': 'OpenFeature-OFREP-js/0.3.1', 'x-rc-app': 'billing' };
    assert.equal((await evaluate('/ofrep/v1/evaluate/flags', billing)).statusCode, 200);
    assert.equal((await evaluate('/ofrep/v1/evaluate/flags/poll-flag', billing)).statusCode, 200, 'same caller');
    const other = { 'user-agent': 'curl/8.5.0' };
    assert.equal((await evaluate('/ofrep/v1/evaluate/flags/poll-flag', other)).statusCode, 200);
    // A refused request (wrong token) is not a caller.
    await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags',
      headers: { authorization: 'Bearer nope', 'user-agent': 'intruder' },
      payload: {},
    });

    const res = await t.app.inject({ method: 'GET', url: '/api/admin/clients', headers: t.admin });
    assert.equal(res.statusCode, 200, res.body);
    const view = res.json() as ClientsView;
    const polling = view.clients.filter((c) => c.transport === 'polling');
    assert.deepEqual(polling.map((c) => c.agent).sort(), ['OpenFeature-OFREP-js/0.3.1', 'curl/8.5.0']);
    const listed = polling.find((c) => c.app === 'billing');
    assert.ok(listed, res.body);
    assert.equal(listed.kind, 'ofrep');
    assert.equal(listed.replica, 'replica-poll');
    assert.equal(listed.environment, 'production');
    assert.equal(listed.token.name, 'billing-prod');
    assert.ok(listed.lastSeen !== null && listed.lastSeen >= listed.connectedSince);
    assert.equal(listed.upToDate, true);
    const answered = listed.lastRevision ?? -1;

    // After a change the caller is behind until it polls again; then it is up to date.
    await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('poll-2') });
    let now = (await t.app.inject({ method: 'GET', url: '/api/admin/clients?app=billing', headers: t.admin })).json();
    assert.equal((now as ClientsView).clients[0]?.upToDate, false);
    await evaluate('/ofrep/v1/evaluate/flags', billing);
    now = (await t.app.inject({ method: 'GET', url: '/api/admin/clients?app=billing', headers: t.admin })).json();
    assert.equal((now as ClientsView).clients[0]?.upToDate, true);
    assert.ok(((now as ClientsView).clients[0]?.lastRevision ?? -1) > answered);
  });

  it('a poller limited to a flag set is compared with its set: a change outside the set leaves it up to date', async () => {
    const t = await createTestApp();
    cleanup.add(() => t.close());
    const inSet = booleanFlag('pay-flag', { metadata: { flagSetId: 'payments' } });
    assert.equal(
      (await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: inSet })).statusCode,
      201,
    );
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      headers: t.admin,
      payload: { kind: 'client', environment: 'production', name: 'payments-poller', flagSet: 'payments' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const auth = { authorization: `Bearer ${created.json().token as string}`, 'x-rc-app': 'payments' };
    const poll = await t.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags', headers: auth, payload: {} });
    assert.equal(poll.statusCode, 200, poll.body);
    const outside = booleanFlag('other-flag');
    assert.equal(
      (await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: outside })).statusCode,
      201,
    );
    const view = (
      await t.app.inject({ method: 'GET', url: '/api/admin/clients?app=payments', headers: t.admin })
    ).json() as ClientsView;
    assert.equal(view.clients[0]?.upToDate, true, JSON.stringify(view.clients));
  });

  it("reads an earlier version's report (streams without transport) during a rolling upgrade", async () => {
    const t = await createTestApp({ RC_REPLICA_ID: 'replica-new' });
    cleanup.add(() => t.close());
    const old = {
      replica: 'replica-old',
      kind: 'sdk',
      app: 'api-gateway',
      instance: null,
      agent: null,
      environment: 'production',
      token: { id: null, name: null },
      connectedSince: new Date().toISOString(),
      lastRevision: 1,
      environmentRevision: 1,
      upToDate: true,
    };
    await t.store.putPresence(
      'replica-old',
      { reportedAt: Date.now(), truncated: 0, clients: [old] },
      Date.now() + 60_000,
    );
    const res = await t.app.inject({ method: 'GET', url: '/api/admin/clients', headers: t.admin });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual((res.json() as ClientsView).clients, [{ ...old, transport: 'stream', lastSeen: null }]);
  });

  it('refuses bad queries and non-admin tokens', async () => {
    const t = await createTestApp();
    cleanup.add(() => t.close());
    const unknown = await t.app.inject({ method: 'GET', url: '/api/admin/clients?user=x', headers: t.admin });
    assert.equal(unknown.statusCode, 400, unknown.body);
    const repeated = await t.app.inject({
      method: 'GET',
      url: '/api/admin/clients?app=a&app=b',
      headers: t.admin,
    });
    assert.equal(repeated.statusCode, 400, repeated.body);
    const empty = await t.app.inject({ method: 'GET', url: '/api/admin/clients?app=', headers: t.admin });
    assert.equal(empty.statusCode, 400, empty.body);
    const client = await t.clientHeaders('production');
    const wrongKind = await t.app.inject({ method: 'GET', url: '/api/admin/clients', headers: client });
    assert.equal(wrongKind.statusCode, 403, wrongKind.body);
    const none = await t.app.inject({ method: 'GET', url: '/api/admin/clients' });
    assert.equal(none.statusCode, 401, none.body);
  });

  it('skips an unreadable presence report and serves the rest', async () => {
    const t = await createTestApp({ RC_REPLICA_ID: 'replica-self' });
    cleanup.add(() => t.close());
    await t.store.putPresence('replica-broken', { clients: 'not a list' }, Date.now() + 60_000);
    await t.store.putPresence(
      'replica-half',
      { reportedAt: Date.now(), truncated: 0, clients: [{ app: 'missing fields' }] },
      Date.now() + 60_000,
    );
    const res = await t.app.inject({ method: 'GET', url: '/api/admin/clients', headers: t.admin });
    assert.equal(res.statusCode, 200, res.body);
    const view = res.json() as ClientsView;
    assert.deepEqual(
      view.replicas.map((r) => r.id),
      ['replica-self', 'replica-half'],
      'the broken report is skipped; the readable one is listed without its malformed entry',
    );
    assert.deepEqual(view.clients, []);
  });
});

describe(
  'clients view across replicas (PostgreSQL)',
  allServices(
    serviceOrFail('RC_TEST_DATABASE_URL', requireTestDatabaseUrl()),
    serviceOrFail('RC_TEST_REDIS_URL', requireTestRedisUrl()),
  ),
  () => {
    const cleanup = new Resources();
    after(() => cleanup.closeAll());

    it("lists another replica's clients from its report, and drops them when that replica stops", async () => {
      const [a, b] = (await startTestReplicas(cleanup, {
        prefix: 'rc_clients',
        ids: ['clients-a', 'clients-b'],
        reconcileIntervalMs: 500,
        env: { RC_PRESENCE_INTERVAL_MS: '200' },
      })) as [TestReplica, TestReplica];
      const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const created = await fetch(`${a.server.url}/api/admin/tokens`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ kind: 'client', environment: 'development', name: 'ai-gateway-dev' }),
      });
      const { token } = (await created.json()) as { token: string };
      // Replica b learns of the token through the store (bus or reconciliation) before it accepts it.
      await eventually(
        async () =>
          (await fetch(`${b.server.url}/api/client/snapshot`, { headers: { authorization: `Bearer ${token}` } }))
            .status === 200,
        5000,
        'replica b knows the token',
        20,
      );
      const stream = await openSse(`${b.server.url}/api/client/stream`, {
        headers: { authorization: `Bearer ${token}`, 'x-rc-app': 'ai-gateway' },
      });
      cleanup.add(() => stream.close());
      await stream.waitFor((e) => e.event === 'snapshot', 5000);

      const listFromA = async () =>
        (await (await fetch(`${a.server.url}/api/admin/clients`, { headers: admin })).json()) as ClientsView;
      const seen = await eventually(
        async () => {
          const view = await listFromA();
          return view.clients.find((c) => c.app === 'ai-gateway') ? view : undefined;
        },
        5000,
        "replica a lists replica b's client",
        50,
      );
      const client = seen.clients.find((c) => c.app === 'ai-gateway');
      assert.equal(client?.replica, 'clients-b');
      assert.equal(client?.token.name, 'ai-gateway-dev');
      assert.deepEqual(seen.replicas.map((r) => [r.id, r.self]).sort(), [
        ['clients-a', true],
        ['clients-b', false],
      ]);

      stream.close();
      await b.close();
      const after = await listFromA();
      assert.deepEqual(
        after.replicas.map((r) => r.id),
        ['clients-a'],
        'a replica that stopped removed its report',
      );
      assert.deepEqual(after.clients, []);
    });
  },
);
