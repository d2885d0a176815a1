import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Flag } from '@runtime-control/core';
import {
  allServices,
  createTestDatabase,
  eventually,
  type RedisServerHandle,
  Resources,
  redisServerBinary,
  requireTestDatabaseUrl,
  serviceOrFail,
  startRedisServer,
  type TestDatabase,
} from '@runtime-control/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { RunningServer } from '../server.js';
import { startTestReplica } from '../testing/replica.js';
import { RedisBus } from './redis-bus.js';

/**
 * "Redis degraded, service up" (issue 9 item 8): with Redis hung (SIGSTOP: TCP open, no answers) or killed, admin
 * writes still answer promptly, `/health/ready` stays 200 (the bus is reported degraded in its body),
 * `rc_bus_degraded` is 1, and other replicas converge through reconciliation. Each suite runs its own redis-server.
 */

const databaseAdminUrl = requireTestDatabaseUrl();
const ADMIN_TOKEN = 'test-admin-token-0123456789';
const ENV = 'production';
const RECONCILE_MS = 300;
/**
 * Bounds that catch the old behaviour (an 8 s write, readiness waiting 2 s on the hung ping then answering 503) with
 * room for a loaded 2-core machine; the targets (about 1 s for a write, well under that for readiness) are tighter.
 */
const WRITE_BOUND_MS = 2500;
const READY_BOUND_MS = 1500;

const needsDatabase = serviceOrFail('RC_TEST_DATABASE_URL', databaseAdminUrl);
const needsRedisBinary = serviceOrFail('redis-server binary (PATH or RC_TEST_REDIS_SERVER)', redisServerBinary());

interface ApiResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test helper; each call site knows the body's shape
  body: any;
  ms: number;
}

async function api(server: RunningServer, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const started = Date.now();
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (/metrics)
  }
  return { status: res.status, body: parsed, ms: Date.now() - started };
}

function expectStatus(res: ApiResponse, expected: number, what: string): void {
  assert.equal(res.status, expected, `${what}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
}

/** The value of an unlabelled gauge in /metrics, or undefined when the series is missing. */
async function gauge(server: RunningServer, name: string): Promise<number | undefined> {
  const res = await api(server, 'GET', '/metrics');
  expectStatus(res, 200, 'GET /metrics');
  for (const line of (res.body as string).split('\n')) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return undefined;
}

function stringFlag(key: string): Flag {
  return {
    key,
    description: 'redis-degraded test flag',
    type: 'string',
    variants: { v0: 'v0', v1: 'v1', v2: 'v2', v3: 'v3' },
    defaultVariant: 'v0',
    environments: { [ENV]: { state: 'ENABLED' } },
  };
}

/** The override for `u-1` that `server` has applied for `key` (its in-memory state, as it would evaluate). */
function overrideOn(server: RunningServer, key: string): string | undefined {
  return server.runtime.state.flag(key)?.flag.environments[ENV]?.overrides?.['u-1'];
}

/** The pid of the redis-server behind `url` (INFO server), so a test can SIGSTOP it. */
async function redisPid(url: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('server');
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
    assert.ok(Number.isInteger(pid) && pid > 0, `process_id in INFO server: ${info}`);
    return pid;
  } finally {
    client.disconnect();
  }
}

/** A SIGSTOPped redis-server, resumed by `resume()` or at cleanup (a stopped process cannot be SIGTERMed away). */
function hang(resources: Resources, pid: number): { resume: () => void } {
  let stopped = true;
  process.kill(pid, 'SIGSTOP');
  const resume = () => {
    if (!stopped) return;
    stopped = false;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  };
  resources.add(resume);
  return { resume };
}

describe('Redis degraded, service up', allServices(needsDatabase, needsRedisBinary), () => {
  let database: TestDatabase | undefined;

  before(async () => {
    database = await createTestDatabase(databaseAdminUrl!);
  });
  after(async () => {
    await database?.drop();
  });

  async function startReplica(resources: Resources, replicaId: string, redisUrl: string): Promise<RunningServer> {
    assert.ok(database, 'the test database exists');
    const replica = await startTestReplica({
      replicaId,
      databaseUrl: database.url,
      redisUrl,
      adminToken: ADMIN_TOKEN,
      reconcileIntervalMs: RECONCILE_MS,
    });
    resources.add(() => replica.close());
    return replica.server;
  }

  /** Two replicas on a private redis-server, sharing flag `key`, both healthy. */
  async function setUp(resources: Resources, label: string, key: string) {
    const redis = await startRedisServer();
    resources.add(() => redis.stop());
    const a = await startReplica(resources, `A-${label}`, redis.url);
    const b = await startReplica(resources, `B-${label}`, redis.url);
    assert.equal(a.runtime.bus.kind, 'redis');
    const created = await api(a, 'POST', '/api/admin/flags', stringFlag(key));
    expectStatus(created, 201, 'create flag on A');
    await eventually(() => b.runtime.state.flag(key), 5000, 'B has the new flag');
    for (const server of [a, b]) await expectHealthyBus(server);
    return { redis, a, b };
  }

  const patchOverride = async (server: RunningServer, key: string, variant: string): Promise<ApiResponse> =>
    api(server, 'PATCH', `/api/admin/flags/${key}/environments/${ENV}`, { overrides: { 'u-1': variant } });

  /** Readiness is 200, prompt, database ok and bus degraded; returns the bus check. */
  async function expectDegradedReadiness(server: RunningServer, what: string) {
    // The first answer after the outage may still report ok (the bus has not noticed yet): wait for the degraded one,
    // but every single answer must be 200 and prompt.
    return eventually(
      async () => {
        const res = await api(server, 'GET', '/health/ready');
        expectStatus(res, 200, `${what}: GET /health/ready (only the database makes it 503)`);
        assert.ok(res.ms <= READY_BOUND_MS, `${what}: /health/ready took ${res.ms} ms`);
        assert.equal(res.body.status, 'ok');
        assert.deepEqual(res.body.checks.database, { status: 'ok' });
        const bus = res.body.checks.bus;
        return bus?.status === 'degraded' ? bus : undefined;
      },
      5000,
      `${what}: /health/ready reports the bus degraded`,
    ).then((bus) => {
      assert.equal(bus.kind, 'redis');
      assert.equal(typeof bus.error, 'string');
      assert.ok(bus.error.length > 0, 'the degraded bus says why');
      return bus;
    });
  }

  async function expectHealthyBus(server: RunningServer, timeoutMs = 5000): Promise<void> {
    await eventually(
      async () => {
        const res = await api(server, 'GET', '/health/ready');
        return (
          res.status === 200 && res.body.checks.bus?.status === 'ok' && (await gauge(server, 'rc_bus_degraded')) === 0
        );
      },
      timeoutMs,
      `replica ${server.runtime.config.replicaId}: bus ok in /health/ready and rc_bus_degraded 0`,
      100,
    );
  }

  async function expectDegradedGauge(server: RunningServer): Promise<void> {
    await eventually(
      async () => (await gauge(server, 'rc_bus_degraded')) === 1,
      5000,
      `replica ${server.runtime.config.replicaId}: rc_bus_degraded 1`,
    );
  }

  describe('Redis hung (SIGSTOP: connections open, no answers)', () => {
    const resources = new Resources();
    const key = 'redis-hung';
    let redis: RedisServerHandle;
    let a: RunningServer;
    let b: RunningServer;
    let pid: number;
    let hung: { resume: () => void };

    before(async () => {
      ({ redis, a, b } = await setUp(resources, 'hung', key));
      pid = await redisPid(redis.url);
    });
    after(() => resources.closeAll());

    it('an admin write answers 200 promptly, not after waiting on Redis', async () => {
      hung = hang(resources, pid);
      const patched = await patchOverride(a, key, 'v1');
      expectStatus(patched, 200, 'PATCH on A with Redis hung');
      assert.ok(patched.ms <= WRITE_BOUND_MS, `the write took ${patched.ms} ms`);
      assert.equal(overrideOn(a, key), 'v1', 'A applied its own write');
      // A second write: once the bus knows it is degraded it must not wait on Redis again.
      const again = await patchOverride(a, key, 'v2');
      expectStatus(again, 200, 'second PATCH on A with Redis hung');
      assert.ok(again.ms <= WRITE_BOUND_MS, `the second write took ${again.ms} ms`);
    });

    it('/health/ready stays 200 on both replicas, promptly, with the bus degraded; rc_bus_degraded is 1', async () => {
      for (const server of [a, b]) {
        await expectDegradedReadiness(server, `replica ${server.runtime.config.replicaId}`);
        await expectDegradedGauge(server);
      }
    });

    it('the other replica converges on the writes by reconciliation', async () => {
      await eventually(() => overrideOn(b, key) === 'v2', 10 * RECONCILE_MS + 2000, 'B applies v2');
      const patched = await patchOverride(b, key, 'v3');
      expectStatus(patched, 200, 'PATCH on B with Redis hung');
      assert.ok(patched.ms <= WRITE_BOUND_MS, `the write on B took ${patched.ms} ms`);
      await eventually(() => overrideOn(a, key) === 'v3', 10 * RECONCILE_MS + 2000, 'A applies v3');
      assert.equal((await api(a, 'GET', '/health/ready')).status, 200);
    });

    it('after SIGCONT the bus recovers: readiness bus ok, rc_bus_degraded 0, writes announced again', async () => {
      hung.resume();
      // Connections the bus recycled while Redis hung reconnect with a backoff capped at 2 s.
      for (const server of [a, b]) await expectHealthyBus(server, 15_000);
      const patched = await patchOverride(a, key, 'v0');
      expectStatus(patched, 200, 'PATCH on A after recovery');
      await eventually(() => overrideOn(b, key) === 'v0', 5000, 'B applies the write made after recovery');
    });
  });

  describe('Redis killed', () => {
    const resources = new Resources();
    const key = 'redis-killed';
    let redis: RedisServerHandle;
    let a: RunningServer;
    let b: RunningServer;

    before(async () => {
      ({ redis, a, b } = await setUp(resources, 'killed', key));
    });
    after(() => resources.closeAll());

    it('an admin write answers 200 promptly', async () => {
      await redis.stop();
      const patched = await patchOverride(a, key, 'v1');
      expectStatus(patched, 200, 'PATCH on A with Redis killed');
      assert.ok(patched.ms <= WRITE_BOUND_MS, `the write took ${patched.ms} ms`);
      assert.equal(overrideOn(a, key), 'v1');
    });

    it('/health/ready stays 200 on both replicas with the bus degraded; rc_bus_degraded is 1', async () => {
      for (const server of [a, b]) {
        const bus = await expectDegradedReadiness(server, `replica ${server.runtime.config.replicaId}`);
        assert.match(bus.error, /redis/i);
        await expectDegradedGauge(server);
      }
    });

    it('the other replica converges on the write by reconciliation', async () => {
      await eventually(() => overrideOn(b, key) === 'v1', 10 * RECONCILE_MS + 2000, 'B applies v1');
    });

    it('when Redis is back the bus recovers', async () => {
      await redis.start();
      for (const server of [a, b]) await expectHealthyBus(server, 15_000);
      const patched = await patchOverride(b, key, 'v2');
      expectStatus(patched, 200, 'PATCH on B after recovery');
      await eventually(() => overrideOn(a, key) === 'v2', 5000, 'A applies the write made after recovery');
    });
  });

  describe('RedisBus on a hung server', () => {
    const resources = new Resources();
    let redis: RedisServerHandle;

    before(async () => {
      redis = await startRedisServer();
      resources.add(() => redis.stop());
    });
    after(() => resources.closeAll());

    it('publish and ping are bounded, the bus reports itself degraded, then recovers after SIGCONT', async () => {
      const bus = new RedisBus(redis.url, pino({ level: 'silent' }));
      resources.add(() => bus.close());
      await bus.connect();
      const changes: (string | undefined)[] = [];
      bus.onDegradedChange((reason) => changes.push(reason));
      assert.equal(bus.degradedReason(), undefined);
      await bus.ping();

      const hung = hang(resources, await redisPid(redis.url));
      let started = Date.now();
      await bus.publish({ revision: 1, committedAt: Date.now(), origin: 'degraded-test' });
      assert.ok(Date.now() - started <= WRITE_BOUND_MS, `publish took ${Date.now() - started} ms`);
      started = Date.now();
      await assert.rejects(bus.ping());
      assert.ok(Date.now() - started <= WRITE_BOUND_MS, `ping took ${Date.now() - started} ms`);
      await bus.publishSignal({ topic: 'degraded-test', payload: {}, origin: 'degraded-test' });
      await eventually(() => bus.degradedReason() !== undefined, 5000, 'the bus reports itself degraded');
      assert.ok(
        changes.length >= 1 && changes[0] !== undefined,
        `degraded change reported: ${JSON.stringify(changes)}`,
      );
      let reconnects = 0;
      bus.onReconnect(() => {
        reconnects += 1;
      });
      // Connections that stay silent after a command are dropped (socket timeout), and reconnecting to the hung server
      // does not block either.
      await eventually(
        () => /redis subscriber is /.test(bus.degradedReason() ?? ''),
        10_000,
        'the silent connections are recycled',
        100,
      );
      started = Date.now();
      await assert.rejects(bus.ping());
      await bus.publish({ revision: 2, committedAt: Date.now(), origin: 'degraded-test' });
      assert.ok(Date.now() - started <= WRITE_BOUND_MS, `ping and publish took ${Date.now() - started} ms`);

      hung.resume();
      await eventually(() => bus.degradedReason() === undefined, 15_000, 'the bus recovers', 100);
      assert.equal(changes.at(-1), undefined, 'recovery reported');
      await bus.ping();
      assert.ok(reconnects >= 1, 'the subscriber reconnected, so the replica catches up from the database');
    });
  });
});
