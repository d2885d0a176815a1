import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { SecretRotatedFrameData } from '@runtime-control/core';
import {
  allServices,
  createTestDatabase,
  eventJson,
  eventually,
  openSse,
  Resources,
  requireTestDatabaseUrl,
  requireTestRedisUrl,
  type SseClient,
  serviceOrFail,
  type TestDatabase,
} from '@runtime-control/testkit';
import type { RunningServer } from '../../server.js';
import { startTestReplica } from '../../testing/replica.js';
import { type DevmentorFakes, startDevmentorFakes } from '../../testing/secrets-fakes.js';

/**
 * Secrets on two replicas sharing PostgreSQL and Redis, both on one Vault + Kubernetes/ESO (the fakes; see
 * docs/secrets.md "Test fakes"): a rotation running on A refuses a rotation of the same bundle on B with 409
 * (the guard is the database's, not a process's), B shows A's rotation and its audit records, and a client stream
 * on B (an `rctl exec` there) gets `secret-rotated` relayed over the bus. The value appears in no response or frame.
 */

const databaseAdminUrl = requireTestDatabaseUrl();
const redisUrl = requireTestRedisUrl();
const ADMIN_TOKEN = 'test-admin-token-secrets-0123456789';

// biome-ignore lint/suspicious/noExplicitAny: test helper; each call site knows the body's shape
type AnyBody = any;

describe(
  'secrets on two replicas (PostgreSQL, Redis, fakes)',
  allServices(serviceOrFail('RC_TEST_DATABASE_URL', databaseAdminUrl), serviceOrFail('RC_TEST_REDIS_URL', redisUrl)),
  () => {
    const resources = new Resources();
    let database: TestDatabase;
    let fakes: DevmentorFakes;
    let a: RunningServer;
    let b: RunningServer;
    let stream: SseClient;
    const seen: string[] = [];

    const api = async (server: RunningServer, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      seen.push(text);
      return { status: res.status, body: (text ? JSON.parse(text) : null) as AnyBody };
    };

    before(async () => {
      database = await createTestDatabase(databaseAdminUrl!);
      resources.add(() => database.drop());
      // Rollouts take a while, so A's rotation is still running when B is asked.
      fakes = await startDevmentorFakes({ rolloutDelayMs: 1500 });
      resources.add(() => fakes.close());
      for (const id of ['A', 'B']) {
        const replica = await startTestReplica({
          replicaId: id,
          databaseUrl: database.url,
          redisUrl: redisUrl!,
          adminToken: ADMIN_TOKEN,
          reconcileIntervalMs: 60_000,
          env: fakes.env(),
        });
        resources.add(() => replica.close());
        if (id === 'A') a = replica.server;
        else b = replica.server;
      }
      const token = await api(a, 'POST', '/api/admin/tokens', { kind: 'client', environment: 'production' });
      assert.equal(token.status, 201);
      await eventually(
        async () =>
          (
            await fetch(`${b.url}/api/client/snapshot`, {
              headers: { authorization: `Bearer ${token.body.token}` },
            })
          ).status === 200,
        10_000,
        'B accepts the client token',
      );
      stream = await openSse(`${b.url}/api/client/stream`, {
        headers: { authorization: `Bearer ${token.body.token}` },
      });
      resources.add(() => stream.close());
      await stream.waitFor((e) => e.event === 'snapshot', 5000);
    });
    after(() => resources.closeAll());

    it('409 on B while A rotates; B shows the rotation, its audit records, and its stream gets secret-rotated', async () => {
      const sentinel = `redis://:${randomBytes(16).toString('base64url')}@cache:6379/1`;
      const started = await api(a, 'POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: sentinel });
      assert.equal(started.status, 202, JSON.stringify(started.body));

      const onB = await api(b, 'POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: `${sentinel}-b` });
      assert.equal(onB.status, 409, JSON.stringify(onB.body));
      assert.equal(onB.body.error.code, 'ROTATION_IN_PROGRESS');
      // Another bundle (with other consumers: a restart of A's consumer would restart A's wait) is not held.
      const other = await api(b, 'POST', '/api/admin/secrets/project-service/database/rotate', {
        value: 'postgres://db.internal/app',
      });
      assert.equal(other.status, 202, 'another bundle is not held');

      let done: AnyBody;
      await eventually(
        async () => {
          done = (await api(b, 'GET', `/api/admin/secrets/api-gateway/redis/rotations/${started.body.id}`)).body;
          return done.status !== 'running';
        },
        30_000,
        "A's rotation seen finished from B",
      );
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal(done.version, 2);

      const frame = await stream.waitFor(
        (e) => e.event === 'secret-rotated' && eventJson<SecretRotatedFrameData>(e).rotation === started.body.id,
        10_000,
      );
      assert.deepEqual(eventJson(frame), {
        service: 'api-gateway',
        bundle: 'redis',
        version: 2,
        rotation: started.body.id,
        at: done.finishedAt,
      });

      await eventually(
        async () => {
          const audit = await api(b, 'GET', '/api/admin/audit?type=secret&key=api-gateway/redis');
          return audit.body.records.some(
            (r: AnyBody) => r.after.rotation === started.body.id && r.after.event === 'completed',
          );
        },
        10_000,
        "A's audit records readable on B",
      );
      const audit = await api(b, 'GET', '/api/admin/audit?type=secret&key=api-gateway/redis');
      const events = audit.body.records
        .filter((r: AnyBody) => r.after.rotation === started.body.id && r.after.outcome !== 'started')
        .reverse()
        .map((r: AnyBody) => `${r.actor} ${r.action} ${r.after.event} ${r.after.previousVersion}→${r.after.version}`);
      assert.deepEqual(events, [
        'admin rotate vault-written 1→2',
        'admin rotate sync-forced 1→2',
        'admin rotate synced 1→2',
        'admin rotate consumers-restarted 1→2',
        'admin rotate rolled-out 1→2',
        'admin rotate completed 1→2',
      ]);

      const texts = [...seen, ...stream.events.map((e) => `${e.event} ${e.data}`)];
      for (const form of [sentinel, Buffer.from(sentinel).toString('base64'), encodeURIComponent(sentinel)]) {
        for (const text of texts) assert.ok(!text.includes(form), 'the value in a response or frame');
      }
      assert.ok(!texts.some((text) => text.includes(fakes.vault.rootToken)), 'the Vault token in a response');
    });
  },
);
