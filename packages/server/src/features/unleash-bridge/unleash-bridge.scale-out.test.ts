import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  allServices,
  createClientToken,
  createTestDatabase,
  eventJson,
  openSse,
  requireTestDatabaseUrl,
  requireTestRedisUrl,
  type SseClient,
  serviceOrFail,
  type TestDatabase,
} from '@runtime-control/testkit';
import { type RunningServer, startServer } from '../../server.js';

/**
 * A webhook reaches one replica; providers connected to the others must get the hint too. Two replicas on one
 * PostgreSQL database and the shared Redis: the webhook goes to A, a provider stream listens on B.
 */

const databaseAdminUrl = requireTestDatabaseUrl();
const redisUrl = requireTestRedisUrl();
const ADMIN = 'unleash-relay-admin-token-0123456789';
const SECRET = 'unleash-relay-webhook-secret-0123456789';

describe(
  'Unleash bridge across replicas (PostgreSQL + Redis)',
  allServices(serviceOrFail('RC_TEST_DATABASE_URL', databaseAdminUrl), serviceOrFail('RC_TEST_REDIS_URL', redisUrl)),
  () => {
    let database: TestDatabase;
    let scratch: string;
    const servers: RunningServer[] = [];
    const streams: SseClient[] = [];
    // Unique per run: other suites publish on the same Redis.
    const run = randomBytes(4).toString('hex');

    const replica = async (id: string) => {
      const server = await startServer({
        port: 0,
        host: '127.0.0.1',
        dataDir: await mkdtemp(join(scratch, `${id}-`)),
        env: {
          RC_DATABASE_URL: database.url,
          RC_REDIS_URL: redisUrl,
          RC_ADMIN_TOKEN: ADMIN,
          RC_REPLICA_ID: `relay-${id}-${run}`,
          RC_UNLEASH_WEBHOOK_SECRET: SECRET,
          RC_LOG_LEVEL: 'silent',
        },
        print: () => {},
        defaultMetrics: false,
      });
      servers.push(server);
      return server;
    };
    const stream = async (server: RunningServer) => {
      const token = await createClientToken(server.url, ADMIN, 'production');
      const s = await openSse(`${server.url}/api/integrations/unleash/stream`, {
        headers: { authorization: `Bearer ${token}` },
      });
      streams.push(s);
      await s.waitFor((e) => e.event === 'ready', 3000);
      return s;
    };
    const webhook = (server: RunningServer, body: unknown) =>
      fetch(`${server.url}/api/integrations/unleash/webhook`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const status = async (server: RunningServer) =>
      (await (
        await fetch(`${server.url}/api/admin/integrations/unleash`, { headers: { authorization: `Bearer ${ADMIN}` } })
      ).json()) as { hintsSent: { webhook: number; watch: number; relay: number } };

    before(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'rc-unleash-relay-'));
      database = await createTestDatabase(databaseAdminUrl!);
    });

    after(async () => {
      for (const s of streams) s.close();
      for (const server of servers) await server.close();
      await database?.drop();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('a webhook received by replica A reaches stream clients of replica B, once per Unleash event', async () => {
      const a = await replica('a');
      const b = await replica('b');
      const atA = await stream(a);
      const atB = await stream(b);
      const res = await webhook(a, { id: 5001, type: 'feature-environment-enabled', featureName: 'relayed-flag' });
      assert.equal(res.status, 202);
      for (const s of [atA, atB]) {
        const e = await s.waitFor((x) => x.event === 'unleash-refresh', 3000);
        assert.deepEqual(eventJson(e), {
          feature: 'relayed-flag',
          type: 'feature-environment-enabled',
          environment: null,
          eventId: 5001,
        });
      }
      // The same event delivered to B as well (Unleash with two addons, or a retry): B has it already.
      const again = (await (
        await webhook(b, { id: 5001, type: 'feature-environment-enabled', featureName: 'relayed-flag' })
      ).json()) as { duplicate?: boolean };
      assert.equal(again.duplicate, true);
      await webhook(b, { id: 5002, type: 'feature-archived', featureName: 'other-flag' });
      await atA.waitFor((x) => x.event === 'unleash-refresh' && eventJson(x).eventId === 5002, 3000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const s of [atA, atB]) {
        const ids = s.events.filter((e) => e.event === 'unleash-refresh').map((e) => eventJson(e).eventId);
        assert.deepEqual(ids, [5001, 5002]);
      }
      assert.deepEqual((await status(a)).hintsSent, { webhook: 1, watch: 0, relay: 1 });
      assert.deepEqual((await status(b)).hintsSent, { webhook: 1, watch: 0, relay: 1 });
    });
  },
);
