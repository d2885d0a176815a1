import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  allServices,
  createTestDatabase,
  eventually,
  openSse,
  Resources,
  requireTestDatabaseUrl,
  requireTestRedisUrl,
  type SseClient,
  serviceOrFail,
  type TestDatabase,
} from '@runtime-control/testkit';
import { type RunningServer, startServer } from '../../server.js';
import { startTestReplica } from '../../testing/replica.js';
import { booleanFlag, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';

/**
 * Revocation is immediate: revoking a token closes every stream it opened (SDK, OFREP, Unleash bridge) within a
 * second, on the replica that revoked it and on every other replica, and refuses its next request.
 */

const ENV = 'production';
const WEBHOOK_SECRET = 'revocation-test-webhook-secret-0123456789';

async function call(server: RunningServer, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}

async function createToken(server: RunningServer, name: string): Promise<{ id: string; token: string }> {
  const res = await call(server, 'POST', '/api/admin/tokens', TEST_ADMIN_TOKEN, {
    kind: 'client',
    environment: ENV,
    name,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.id, token: res.body.token };
}

async function ofrepStreamUrl(server: RunningServer, token: string): Promise<string> {
  const res = await call(server, 'POST', '/ofrep/v1/evaluate/flags', token, { context: {} });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.eventStreams[0].url as string;
}

/** Milliseconds from now until `stream` has ended (fails after `limitMs`). */
async function closedWithin(stream: SseClient, limitMs: number, what: string, started: number): Promise<number> {
  await eventually(() => stream.closed, limitMs + 500, `${what} is closed`, 10);
  const elapsed = Date.now() - started;
  assert.ok(elapsed <= limitMs, `${what} closed after ${elapsed} ms (limit ${limitMs} ms)`);
  return elapsed;
}

describe('revoking a token closes its streams on the same replica', () => {
  const cleanup = new Resources();
  let server: RunningServer;

  before(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'rc-revocation-'));
    cleanup.add(() => rm(dataDir, { recursive: true, force: true }));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        RC_LOG_LEVEL: 'silent',
        RC_UNLEASH_WEBHOOK_SECRET: WEBHOOK_SECRET,
        // Heartbeats far apart: a stream must end because of the revocation, not because a write failed.
        RC_SSE_HEARTBEAT_MS: '60000',
      },
      print: () => {},
      defaultMetrics: false,
    });
    cleanup.add(() => server.close());
    assert.equal((await call(server, 'POST', '/api/admin/flags', TEST_ADMIN_TOKEN, booleanFlag('a'))).status, 201);
  });
  after(() => cleanup.closeAll());

  const open = async (url: string, token?: string) => {
    const s = await openSse(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    cleanup.add(() => s.close());
    assert.equal(s.status, 200);
    return s;
  };

  it('SDK, OFREP (key and header) and Unleash bridge streams end within 1 s; other tokens keep theirs', async () => {
    const doomed = await createToken(server, 'doomed');
    const other = await createToken(server, 'other');
    const sdk = await open(`${server.url}/api/client/stream`, doomed.token);
    await sdk.waitFor((e) => e.event === 'snapshot', 2000);
    const ofrepByKey = await open(await ofrepStreamUrl(server, doomed.token));
    const ofrepByHeader = await open(`${server.url}/ofrep/v1/sse`, doomed.token);
    const unleash = await open(`${server.url}/api/integrations/unleash/stream`, doomed.token);
    await unleash.waitFor((e) => e.event === 'ready', 2000);
    const otherSdk = await open(`${server.url}/api/client/stream`, other.token);
    await otherSdk.waitFor((e) => e.event === 'snapshot', 2000);

    const started = Date.now();
    assert.equal((await call(server, 'DELETE', `/api/admin/tokens/${doomed.id}`, TEST_ADMIN_TOKEN)).status, 204);
    await closedWithin(sdk, 1000, 'the SDK stream', started);
    await closedWithin(ofrepByKey, 1000, 'the OFREP stream (key)', started);
    await closedWithin(ofrepByHeader, 1000, 'the OFREP stream (header)', started);
    await closedWithin(unleash, 1000, 'the Unleash bridge stream', started);
    const snapshotEvents = sdk.events.filter((e) => e.event === 'snapshot').length;
    assert.equal(snapshotEvents, 1, 'no configuration after the revocation');

    // Another token's stream is untouched and still receives changes.
    assert.equal(otherSdk.closed, false);
    const from = otherSdk.events.length;
    const patch = await call(server, 'PATCH', `/api/admin/flags/a/environments/${ENV}`, TEST_ADMIN_TOKEN, {
      state: 'DISABLED',
    });
    assert.equal(patch.status, 200);
    await otherSdk.waitFor((e) => e.event === 'change', 2000, { fromIndex: from });
  });

  it("refuses the revoked token's next request and its OFREP stream key (401)", async () => {
    const doomed = await createToken(server, 'doomed-2');
    const keyUrl = await ofrepStreamUrl(server, doomed.token);
    const keyed = await fetch(keyUrl);
    assert.equal(keyed.status, 200, 'the key works while its token is live');
    await keyed.body?.cancel();
    assert.equal((await call(server, 'DELETE', `/api/admin/tokens/${doomed.id}`, TEST_ADMIN_TOKEN)).status, 204);

    for (const [method, path, body] of [
      ['GET', '/api/client/snapshot', undefined],
      ['GET', '/api/client/stream', undefined],
      ['POST', '/ofrep/v1/evaluate/flags/a', { context: {} }],
      ['POST', '/ofrep/v1/evaluate/flags', { context: {} }],
      ['GET', '/ofrep/v1/sse', undefined],
      ['GET', '/api/integrations/unleash/stream', undefined],
    ] as const) {
      const res = await call(server, method, path, doomed.token, body);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.body.error.code, 'UNAUTHORIZED');
    }
    const byKey = await fetch(keyUrl);
    assert.equal(byKey.status, 401, 'the OFREP stream key of a revoked token');
    assert.equal(((await byKey.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  });
});

const databaseAdminUrl = requireTestDatabaseUrl();
const redisUrl = requireTestRedisUrl();

describe(
  'revoking a token on one replica closes its streams on another (PostgreSQL + Redis)',
  allServices(serviceOrFail('RC_TEST_DATABASE_URL', databaseAdminUrl), serviceOrFail('RC_TEST_REDIS_URL', redisUrl)),
  () => {
    const cleanup = new Resources();
    let database: TestDatabase;
    let a: RunningServer;
    let b: RunningServer;

    const replica = async (id: string) => {
      const started = await startTestReplica({
        replicaId: id,
        databaseUrl: database.url,
        redisUrl: redisUrl!,
        adminToken: TEST_ADMIN_TOKEN,
        // Reconciliation every minute: only the Redis announcement can make B learn of the revocation in time.
        reconcileIntervalMs: 60_000,
        env: { RC_UNLEASH_WEBHOOK_SECRET: WEBHOOK_SECRET, RC_SSE_HEARTBEAT_MS: '60000' },
      });
      cleanup.add(() => started.close());
      return started.server;
    };

    before(async () => {
      database = await createTestDatabase(databaseAdminUrl!, { prefix: 'rc_revocation' });
      cleanup.add(() => database.drop());
      a = await replica('A');
      b = await replica('B');
      assert.equal(b.runtime.bus.kind, 'redis');
      assert.equal(b.runtime.store.kind, 'postgres');
    });
    after(() => cleanup.closeAll());

    it('SDK, OFREP and Unleash bridge streams on B end within 1 s of a revocation on A; B refuses the token', async () => {
      const doomed = await createToken(a, 'doomed-scale-out');
      await eventually(
        async () => (await call(b, 'GET', '/api/client/snapshot', doomed.token)).status === 200,
        5000,
        'B accepts the new token',
      );
      const open = async (url: string, token?: string) => {
        const s = await openSse(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
        cleanup.add(() => s.close());
        assert.equal(s.status, 200);
        return s;
      };
      const sdk = await open(`${b.url}/api/client/stream`, doomed.token);
      await sdk.waitFor((e) => e.event === 'snapshot', 2000);
      const keyUrl = await ofrepStreamUrl(b, doomed.token);
      assert.ok(keyUrl.startsWith(`${b.url}/`), `the stream URL points at B: ${keyUrl}`);
      const ofrep = await open(keyUrl);
      const unleash = await open(`${b.url}/api/integrations/unleash/stream`, doomed.token);
      await unleash.waitFor((e) => e.event === 'ready', 2000);

      const started = Date.now();
      assert.equal((await call(a, 'DELETE', `/api/admin/tokens/${doomed.id}`, TEST_ADMIN_TOKEN)).status, 204);
      await closedWithin(sdk, 1000, "B's SDK stream", started);
      await closedWithin(ofrep, 1000, "B's OFREP stream", started);
      await closedWithin(unleash, 1000, "B's Unleash bridge stream", started);

      assert.equal((await call(b, 'GET', '/api/client/snapshot', doomed.token)).status, 401);
      assert.equal((await fetch(keyUrl)).status, 401, 'B refuses the OFREP stream key of the revoked token');
    });
  },
);
