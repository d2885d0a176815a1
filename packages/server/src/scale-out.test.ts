import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ChangeFrameData, type Flag, type FlagdFlag, toFlagdFlag } from '@runtime-control/core';
import {
  allServices,
  createTestDatabase,
  eventJson,
  eventually,
  openSse,
  type RedisServerHandle,
  Resources,
  redisServerBinary,
  requireTestDatabaseUrl,
  requireTestRedisUrl,
  type SseClient,
  type SseEvent,
  serviceOrFail,
  startRedisServer,
  type TestDatabase,
} from '@runtime-control/testkit';
import type { RunningServer } from './server.js';
import { startTestReplica } from './testing/replica.js';

/**
 * Scale-out acceptance: two replicas on one PostgreSQL database, announcing changes over Redis. Each suite runs its
 * own pair of replicas (and, for outages, its own redis-server) on a database created for this file.
 */

const databaseAdminUrl = requireTestDatabaseUrl();
const sharedRedisUrl = requireTestRedisUrl();
const ADMIN_TOKEN = 'test-admin-token-0123456789';
const ENV = 'production';

const needsDatabase = serviceOrFail('RC_TEST_DATABASE_URL', databaseAdminUrl);
const needsSharedRedis = serviceOrFail('RC_TEST_REDIS_URL', sharedRedisUrl);
const needsRedisBinary = serviceOrFail('redis-server binary (PATH or RC_TEST_REDIS_SERVER)', redisServerBinary());

interface ApiResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test helper; each call site knows the body's shape
  body: any;
  headers: Headers;
}

async function api(
  server: RunningServer,
  method: string,
  path: string,
  body?: unknown,
  token = ADMIN_TOKEN,
): Promise<ApiResponse> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

function expectStatus(res: ApiResponse, expected: number | number[], what: string): void {
  const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
  assert.ok(ok, `${what}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
}

/** Reads one counter sample (`name{label="value"} N`) from /metrics; 0 when the series does not exist yet. */
async function metric(server: RunningServer, name: string, labels = ''): Promise<number> {
  const res = await api(server, 'GET', '/metrics');
  expectStatus(res, 200, 'GET /metrics');
  const text = res.body as string;
  const series = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

type ChangeData = ChangeFrameData<{ flags: Record<string, FlagdFlag> }>;

/** A `change` event carrying `key` in exactly the compiled state of `flag`. */
function changeOf(flag: Flag): (e: SseEvent) => boolean {
  const expected = toFlagdFlag(flag, ENV);
  return (e) => {
    if (e.event !== 'change') return false;
    const data = eventJson<ChangeData>(e);
    if (!data.changed.includes(flag.key)) return false;
    try {
      assert.deepEqual(data.config.flags[flag.key], expected);
      return true;
    } catch {
      return false;
    }
  };
}

function stringFlag(key: string): Flag {
  return {
    key,
    description: 'scale-out acceptance test flag',
    type: 'string',
    variants: { v0: 'v0', v1: 'v1', v2: 'v2', v3: 'v3' },
    defaultVariant: 'v0',
    environments: { [ENV]: { state: 'ENABLED' } },
  };
}

async function ofrep(server: RunningServer, token: string, key: string, targetingKey: string): Promise<ApiResponse> {
  return api(server, 'POST', `/ofrep/v1/evaluate/flags/${key}`, { context: { targetingKey } }, token);
}

async function debugValue(server: RunningServer, key: string, targetingKey: string): Promise<unknown> {
  const res = await api(server, 'POST', '/api/admin/evaluate', { environment: ENV, context: { targetingKey } });
  expectStatus(res, 200, 'POST /api/admin/evaluate');
  return (res.body.flags as { key: string; value?: unknown }[]).find((f) => f.key === key)?.value;
}

let database: TestDatabase | undefined;

async function startReplica(
  resources: Resources,
  replicaId: string,
  redisUrl: string,
  reconcileIntervalMs: number,
): Promise<RunningServer> {
  assert.ok(database, 'the test database exists');
  const replica = await startTestReplica({
    replicaId,
    databaseUrl: database.url,
    redisUrl,
    adminToken: ADMIN_TOKEN,
    reconcileIntervalMs,
  });
  resources.add(() => replica.close());
  return replica.server;
}

async function openStream(resources: Resources, server: RunningServer, token: string): Promise<SseClient> {
  const sse = await openSse(`${server.url}/api/client/stream`, { headers: { authorization: `Bearer ${token}` } });
  resources.add(() => sse.close());
  await sse.waitFor((e) => e.event === 'snapshot', 5000);
  return sse;
}

/** Creates a client token on `writer` and waits until `reader` accepts it (tokens replicate like flags). */
async function clientTokenVisibleOn(writer: RunningServer, reader: RunningServer, timeoutMs: number): Promise<string> {
  const res = await api(writer, 'POST', '/api/admin/tokens', { kind: 'client', environment: ENV, name: 'scale-out' });
  expectStatus(res, 201, 'create client token');
  const token = res.body.token as string;
  await eventually(
    async () => (await api(reader, 'GET', '/api/client/snapshot', undefined, token)).status === 200,
    timeoutMs,
    `replica ${reader.runtime.config.replicaId} accepts the new client token`,
  );
  return token;
}

async function readiness(server: RunningServer): Promise<ApiResponse> {
  return api(server, 'GET', '/health/ready');
}

describe('scale-out: two replicas, PostgreSQL and Redis', allServices(needsDatabase), () => {
  before(async () => {
    database = await createTestDatabase(databaseAdminUrl!);
  });
  after(async () => {
    await database?.drop();
  });

  describe('changes travel over Redis pub/sub (reconciliation every 60 s)', needsSharedRedis, () => {
    const resources = new Resources();
    let a: RunningServer;
    let b: RunningServer;
    let token: string;
    let stream: SseClient;
    const flag = stringFlag('scale-out-pubsub');

    before(async () => {
      a = await startReplica(resources, 'A', sharedRedisUrl!, 60_000);
      b = await startReplica(resources, 'B', sharedRedisUrl!, 60_000);
      assert.equal(a.runtime.bus.kind, 'redis');
      assert.equal(a.runtime.store.kind, 'postgres');
      // With reconciliation at 60 s, only a Redis message can make B see the token this fast.
      token = await clientTokenVisibleOn(a, b, 5000);
      stream = await openStream(resources, b, token);
    });
    after(() => resources.closeAll());

    it('a flag created on A reaches B’s stream within seconds', async () => {
      const started = Date.now();
      const created = await api(a, 'POST', '/api/admin/flags', flag);
      expectStatus(created, 201, 'create flag on A');
      const revision = Number(JSON.parse(created.headers.get('etag')!));
      const event = await stream.waitFor(changeOf(created.body as Flag), 5000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 5000, `arrived after ${elapsed} ms; reconciliation (60 s) cannot explain it`);
      const data = eventJson<ChangeData>(event);
      assert.equal(data.revision, revision);
      assert.equal(event.id, String(revision));
      assert.equal(data.config.flags[flag.key]!.state, 'ENABLED');
    });

    it('a patch on A changes B’s stream, OFREP evaluation and debug view', async () => {
      const from = stream.events.length;
      const patched = await api(a, 'PATCH', `/api/admin/flags/${flag.key}/environments/${ENV}`, {
        overrides: { 'u-1': 'v1' },
      });
      expectStatus(patched, 200, 'patch flag on A');
      await stream.waitFor(changeOf(patched.body as Flag), 5000, { fromIndex: from });

      const evaluation = await ofrep(b, token, flag.key, 'u-1');
      expectStatus(evaluation, 200, 'OFREP on B');
      assert.equal(evaluation.body.value, 'v1');
      assert.equal(evaluation.body.variant, 'v1');
      assert.equal(evaluation.body.reason, 'TARGETING_MATCH');
      const other = await ofrep(b, token, flag.key, 'u-2');
      assert.equal(other.body.value, 'v0');
      assert.equal(await debugValue(b, flag.key, 'u-1'), 'v1');
    });

    it('B applied the changes because of Redis messages, not reconciliation', async () => {
      assert.ok((await metric(b, 'rc_catch_ups_total', 'trigger="message"')) >= 1, 'catch-ups triggered by messages');
      assert.equal(await metric(b, 'rc_catch_ups_total', 'trigger="reconcile"'), 0);
      assert.ok((await metric(b, 'rc_propagation_lag_seconds_count')) >= 1, 'propagation lag observed on B');
      assert.equal(await metric(b, 'rc_revision'), a.runtime.state.revision);
    });

    it('a flag deleted on A disappears from B', async () => {
      const from = stream.events.length;
      expectStatus(await api(a, 'DELETE', `/api/admin/flags/${flag.key}`), 204, 'delete flag on A');
      const event = await stream.waitFor(
        (e) => e.event === 'change' && eventJson<ChangeData>(e).changed.includes(flag.key),
        5000,
        { fromIndex: from },
      );
      assert.equal(eventJson<ChangeData>(event).config.flags[flag.key], undefined);
      const evaluation = await ofrep(b, token, flag.key, 'u-1');
      assert.equal(evaluation.status, 404);
    });
  });

  describe('Redis outage (reconciliation every 500 ms)', needsRedisBinary, () => {
    const RECONCILE_MS = 500;
    const resources = new Resources();
    let redis: RedisServerHandle;
    let a: RunningServer;
    let b: RunningServer;
    let token: string;
    let stream: SseClient;
    const flag = stringFlag('scale-out-outage');

    const patchOverride = async (variant: string): Promise<Flag> => {
      const res = await api(a, 'PATCH', `/api/admin/flags/${flag.key}/environments/${ENV}`, {
        overrides: { 'u-1': variant },
      });
      expectStatus(res, 200, `patch on A to ${variant} (the write must succeed without Redis)`);
      return res.body as Flag;
    };

    before(async () => {
      redis = await startRedisServer();
      resources.add(() => redis.stop());
      a = await startReplica(resources, 'A-outage', redis.url, RECONCILE_MS);
      b = await startReplica(resources, 'B-outage', redis.url, RECONCILE_MS);
      token = await clientTokenVisibleOn(a, b, 5000);
      stream = await openStream(resources, b, token);
      const created = await api(a, 'POST', '/api/admin/flags', flag);
      expectStatus(created, 201, 'create flag on A');
      await stream.waitFor(changeOf(created.body as Flag), 5000);
    });
    after(() => resources.closeAll());

    it('B is ready while Redis is up', async () => {
      const res = await readiness(b);
      expectStatus(res, 200, 'GET /health/ready on B');
      assert.deepEqual(res.body.checks.bus, { kind: 'redis', status: 'ok' });
    });

    it('B stays ready (200) with the bus reported degraded while Redis is down', async () => {
      await redis.stop();
      const res = await eventually(
        async () => {
          const r = await readiness(b);
          expectStatus(r, 200, 'B /health/ready with Redis down (only the database makes it 503)');
          return r.body.checks.bus.status === 'degraded' ? r : undefined;
        },
        5000,
        'B /health/ready reports the bus degraded',
      );
      assert.match(res.body.checks.bus.error, /redis/);
      assert.equal(res.body.checks.database.status, 'ok');
      assert.equal(await metric(b, 'rc_bus_degraded'), 1);
    });

    it('with Redis down, writes succeed and B converges by reconciliation alone within ~2× the interval', async () => {
      assert.equal(redis.running, false);
      const from = stream.events.length;
      const started = Date.now();
      const patched = await patchOverride('v1');
      // Slack over 2× the interval for a loaded CI machine; nothing but the reconcile timer can deliver this.
      await stream.waitFor(changeOf(patched), 2 * RECONCILE_MS + 500, { fromIndex: from });
      const elapsed = Date.now() - started;
      assert.ok(elapsed <= 2 * RECONCILE_MS + 500, `converged after ${elapsed} ms`);
      assert.equal(redis.running, false, 'Redis stayed down');
      assert.equal((await readiness(b)).body.checks.bus.status, 'degraded', 'B still sees Redis down');
      assert.equal(await debugValue(b, flag.key, 'u-1'), 'v1');
      const evaluation = await ofrep(b, token, flag.key, 'u-1');
      expectStatus(evaluation, 200, 'OFREP on B');
      assert.equal(evaluation.body.value, 'v1');
    });

    it('a write during the outage reaches B after Redis is back, and B is ready again', async () => {
      assert.equal(redis.running, false);
      const from = stream.events.length;
      const patched = await patchOverride('v2');
      await redis.start();
      await stream.waitFor(changeOf(patched), RECONCILE_MS + 2500, { fromIndex: from });
      assert.equal(await debugValue(b, flag.key, 'u-1'), 'v2');
      assert.equal((await ofrep(b, token, flag.key, 'u-1')).body.value, 'v2');
      // ioredis reconnects with a backoff capped at 2 s.
      const res = await eventually(
        async () => {
          const r = await readiness(b);
          return r.status === 200 && r.body.checks.bus.status === 'ok' ? r : undefined;
        },
        6000,
        'B /health/ready reports the bus ok again',
      );
      assert.equal(res.body.checks.bus.kind, 'redis');
      assert.equal(await metric(b, 'rc_bus_degraded'), 0);
    });

    it('B counted catch-ups triggered by reconcile or reconnect', async () => {
      const reconcile = await metric(b, 'rc_catch_ups_total', 'trigger="reconcile"');
      const reconnect = await metric(b, 'rc_catch_ups_total', 'trigger="reconnect"');
      assert.ok(reconcile + reconnect > 0, `reconcile=${reconcile} reconnect=${reconnect}`);
      assert.equal(await metric(b, 'rc_revision'), a.runtime.state.revision);
    });

    it('after the outage, a new write reaches B again', async () => {
      const from = stream.events.length;
      const patched = await patchOverride('v3');
      await stream.waitFor(changeOf(patched), 3000, { fromIndex: from });
      assert.equal(await debugValue(b, flag.key, 'u-1'), 'v3');
    });
  });

  describe('Redis outage without reconciliation (60 s): the reconnect catch-up', needsRedisBinary, () => {
    const resources = new Resources();
    let redis: RedisServerHandle;
    let a: RunningServer;
    let b: RunningServer;
    let stream: SseClient;
    const flag = stringFlag('scale-out-reconnect');

    before(async () => {
      redis = await startRedisServer();
      resources.add(() => redis.stop());
      a = await startReplica(resources, 'A-reconnect', redis.url, 60_000);
      b = await startReplica(resources, 'B-reconnect', redis.url, 60_000);
      const token = await clientTokenVisibleOn(a, b, 5000);
      stream = await openStream(resources, b, token);
    });
    after(() => resources.closeAll());

    it('a change missed while Redis was down is applied when B’s subscriber reconnects', async () => {
      await redis.stop();
      const from = stream.events.length;
      const created = await api(a, 'POST', '/api/admin/flags', flag);
      expectStatus(created, 201, 'create flag on A while Redis is down');
      // Nothing can deliver it now: no pub/sub and no reconcile for 60 s.
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(stream.events.slice(from).filter(changeOf(created.body as Flag)).length, 0, 'not delivered yet');
      await redis.start();
      // Reconnect backoff is capped at 2 s.
      await stream.waitFor(changeOf(created.body as Flag), 5000, { fromIndex: from });
      assert.ok((await metric(b, 'rc_catch_ups_total', 'trigger="reconnect"')) >= 1, 'a reconnect catch-up');
      assert.equal(await metric(b, 'rc_catch_ups_total', 'trigger="reconcile"'), 0);
      assert.ok(b.runtime.state.flag(flag.key), 'B has the flag');
    });
  });
});
