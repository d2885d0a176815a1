import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  allServices,
  eventually,
  openSse,
  Resources,
  requireTestRedisUrl,
  serviceOrFail,
  startPrivatePostgres,
} from '@runtime-control/testkit';
import { startTestReplica } from '../testing/replica.js';
import { booleanFlag, TEST_ADMIN_TOKEN } from '../testing/test-app.js';

/**
 * Issue 15 item 6: two replicas on one PostgreSQL (a private server, so it can be stopped) and Redis; 20 concurrent
 * writers; PostgreSQL stopped as in a crash mid-writes and started again. Writes answer 503 while it is down (never
 * a 500), the replicas recover on their own, no committed change is lost, and every client converges.
 */
const WRITERS = 20;
const headers = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };

interface Attempt {
  writer: number;
  replica: 'a' | 'b';
  state: 'ENABLED' | 'DISABLED';
  status: number;
  revision?: number;
  phase: 'before' | 'outage' | 'after';
}

describe(
  'writes under scale-out: PostgreSQL restarted mid-writes',
  allServices(serviceOrFail('RC_TEST_REDIS_URL', requireTestRedisUrl())),
  () => {
    const cleanup = new Resources();
    after(() => cleanup.closeAll());

    it('503 while it is down, recovery on their own, nothing committed lost, every client converges', async () => {
      const pg = await startPrivatePostgres();
      cleanup.add(() => pg.destroy());
      const common = {
        databaseUrl: pg.url,
        redisUrl: requireTestRedisUrl()!,
        adminToken: TEST_ADMIN_TOKEN,
        reconcileIntervalMs: 500,
      };
      const a = await startTestReplica({ ...common, replicaId: 'restart-a' });
      cleanup.add(() => a.close());
      const b = await startTestReplica({ ...common, replicaId: 'restart-b' });
      cleanup.add(() => b.close());
      const urls = { a: a.server.url, b: b.server.url };
      const call = async (replica: 'a' | 'b', method: string, path: string, body?: unknown) => {
        try {
          const res = await fetch(`${urls[replica]}${path}`, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          return { status: res.status, etag: res.headers.get('etag'), body: text ? JSON.parse(text) : undefined };
        } catch (err) {
          return { status: 0, etag: null, body: String(err) };
        }
      };
      for (let w = 0; w < WRITERS; w++) {
        assert.equal((await call('a', 'POST', '/api/admin/flags', booleanFlag(`w-${w}`))).status, 201);
      }
      const token = (await call('a', 'POST', '/api/admin/tokens', { kind: 'client', environment: 'development' })).body
        .token as string;
      await eventually(
        async () =>
          (await fetch(`${urls.b}/api/client/snapshot`, { headers: { authorization: `Bearer ${token}` } })).status ===
          200,
        5000,
        'replica b knows the token',
        20,
      );
      const streams = await Promise.all(
        (['a', 'b'] as const).map((r) =>
          openSse(`${urls[r]}/api/client/stream?format=delta`, { headers: { authorization: `Bearer ${token}` } }),
        ),
      );
      for (const s of streams) cleanup.add(() => s.close());

      let phase: Attempt['phase'] = 'before';
      let stopping = false;
      const attempts: Attempt[] = [];
      const writer = async (w: number) => {
        for (let k = 0; !stopping; k++) {
          const replica = (w + k) % 2 === 0 ? 'a' : 'b';
          const state = k % 2 === 0 ? 'DISABLED' : 'ENABLED';
          const at = phase;
          const res = await call(replica, 'PATCH', `/api/admin/flags/w-${w}/environments/development`, { state });
          const attempt: Attempt = { writer: w, replica, state, status: res.status, phase: at };
          if (res.status === 200) attempt.revision = Number(JSON.parse(res.etag!));
          attempts.push(attempt);
          if (res.status !== 200) await new Promise((r) => setTimeout(r, 100));
        }
      };
      const running = Array.from({ length: WRITERS }, (_, w) => writer(w));
      await new Promise((r) => setTimeout(r, 1500));
      phase = 'outage';
      await pg.stop();
      await new Promise((r) => setTimeout(r, 2500));
      await pg.start();
      phase = 'after';
      // Both replicas answer writes again by themselves (their pools reconnect), then a while of writes.
      await eventually(
        () =>
          (['a', 'b'] as const).every((r) =>
            attempts.some((t) => t.phase === 'after' && t.replica === r && t.status === 200),
          ),
        20_000,
        'both replicas to accept writes again',
        50,
      );
      await new Promise((r) => setTimeout(r, 1500));
      stopping = true;
      await Promise.all(running);

      const failed = attempts.filter((t) => t.status !== 200);
      const histogram = JSON.stringify(
        Object.fromEntries(
          ['before', 'outage', 'after'].map((p) => [
            p,
            attempts
              .filter((t) => t.phase === p)
              .reduce<Record<number, number>>((h, t) => {
                h[t.status] = (h[t.status] ?? 0) + 1;
                return h;
              }, {}),
          ]),
        ),
      );
      assert.ok(
        attempts.some((t) => t.phase === 'before' && t.status === 200),
        'writes were committed before the outage',
      );
      assert.ok(
        failed.some((t) => t.status === 503),
        `the outage was hit: some writes answered 503 (statuses by phase: ${histogram})`,
      );
      assert.deepEqual(
        [...new Set(failed.map((t) => t.status))],
        [503],
        `a failed write is a 503, never a 500: ${histogram}`,
      );
      for (const r of ['a', 'b'] as const) {
        await eventually(
          async () => (await fetch(`${urls[r]}/health/ready`)).status === 200,
          10_000,
          `replica ${r} ready`,
          50,
        );
      }

      // Nothing committed is lost: every revision a write was answered with is in the audit log, and each flag is at
      // (or, after a write whose answer was lost in the outage, past) its last committed revision.
      const final = await call('a', 'GET', '/api/admin/flags');
      const finalRevision = final.body.revision as number;
      for (let w = 0; w < WRITERS; w++) {
        const committed = attempts.filter((t) => t.writer === w && t.revision !== undefined);
        const audit = await call('a', 'GET', `/api/admin/audit?flag=w-${w}&limit=1000`);
        const audited = new Set((audit.body.records as { revision: number }[]).map((r) => r.revision));
        for (const t of committed) assert.ok(audited.has(t.revision!), `w-${w}: revision ${t.revision} is audited`);
        const last = committed.at(-1)!;
        const flag = await call('a', 'GET', `/api/admin/flags/w-${w}`);
        const storedAt = Number(JSON.parse(flag.etag!));
        assert.ok(storedAt >= last.revision!, `w-${w} is at ${storedAt}, at least its last committed ${last.revision}`);
        if (storedAt === last.revision) assert.equal(flag.body.environments.development.state, last.state);
      }

      // Every client converges: both streams reach the final revision and both replicas serve the same document.
      for (const s of streams) {
        await eventually(() => Number(s.lastEventId) >= finalRevision, 10_000, 'a stream to converge', 20);
      }
      const snapshot = async (r: 'a' | 'b') =>
        (await fetch(`${urls[r]}/api/client/snapshot`, { headers: { authorization: `Bearer ${token}` } })).json();
      await eventually(
        async () => JSON.stringify(await snapshot('a')) === JSON.stringify(await snapshot('b')),
        10_000,
        'both replicas to serve the same document',
        50,
      );
    });
  },
);
