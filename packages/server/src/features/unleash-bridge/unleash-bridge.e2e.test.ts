import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClientToken, eventJson, openSse, type SseClient } from '@runtime-control/testkit';
import { type RunningServer, startServer } from '../../server.js';
import { createTestApp, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';

const SECRET = 'unleash-webhook-secret-0123456789';

describe('Unleash webhook bridge', () => {
  let server: RunningServer;
  let dataDir: string;
  const streams: SseClient[] = [];
  const tokens: Record<string, string> = {};

  const post = (body: unknown, authorization: string | null = `Bearer ${SECRET}`) =>
    fetch(`${server.url}/api/integrations/unleash/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  const connect = async (token: string) => {
    const s = await openSse(`${server.url}/api/integrations/unleash/stream`, {
      headers: { authorization: `Bearer ${token}` },
    });
    streams.push(s);
    await s.waitFor((e) => e.event === 'ready', 2000);
    return s;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-unleash-bridge-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        RC_LOG_LEVEL: 'silent',
        RC_SSE_HEARTBEAT_MS: '200',
        RC_UNLEASH_WEBHOOK_SECRET: SECRET,
      },
      print: () => {},
    });
    for (const environment of ['development', 'production']) {
      tokens[environment] = await createClientToken(server.url, TEST_ADMIN_TOKEN, environment);
    }
  });

  after(async () => {
    for (const s of streams) s.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 401 without the shared secret, with a wrong one, or without "Bearer"', async () => {
    const event = { type: 'feature-updated', featureName: 'x' };
    for (const authorization of [null, 'Bearer wrong-secret', `Bearer ${SECRET}x`, SECRET, `Basic ${SECRET}`]) {
      const res = await post(event, authorization);
      assert.equal(res.status, 401, String(authorization));
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'UNAUTHORIZED');
      assert.doesNotMatch(body.error.message, new RegExp(SECRET));
    }
  });

  it('answers 400 naming the field for a body that is not an Unleash event', async () => {
    const cases: [unknown, string][] = [
      [{ featureName: 'x' }, '/type'],
      [{ type: 42 }, '/type'],
      [{ type: 'feature-updated', featureName: 7 }, '/featureName'],
      [{ type: 'feature-updated', environment: ['production'] }, '/environment'],
      [[{ type: 'feature-updated' }], ''],
    ];
    for (const [body, path] of cases) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const json = (await res.json()) as { error: { code: string; path: string } };
      assert.equal(json.error.code, 'VALIDATION_FAILED');
      assert.equal(json.error.path, path);
    }
    const malformed = await post('{"type": ');
    assert.equal(malformed.status, 400);
  });

  it('sends every stream client (any environment) an unleash-refresh event for a feature event', async () => {
    const dev = await connect(tokens.development!);
    const prod = await connect(tokens.production!);
    const sent = Date.now();
    // Unleash's default webhook body: the event as its event log stores it (extra fields are ignored).
    const res = await post({
      id: 41,
      type: 'feature-environment-enabled',
      createdBy: 'admin',
      createdAt: new Date().toISOString(),
      featureName: 'new-ui-enabled',
      project: 'default',
      environment: 'production',
      data: null,
      preData: null,
      tags: [],
    });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { accepted: true, clients: 2 });
    for (const stream of [dev, prod]) {
      const e = await stream.waitFor((x) => x.event === 'unleash-refresh', 2000);
      assert.deepEqual(eventJson(e), {
        feature: 'new-ui-enabled',
        type: 'feature-environment-enabled',
        environment: 'production',
        eventId: 41,
      });
      assert.ok(e.receivedAt - sent < 1000);
    }
    // Bulk and metadata events count as feature events too.
    for (const type of ['features-imported', 'feature-strategy-update', 'feature-archived']) {
      assert.deepEqual(await (await post({ type })).json(), { accepted: true, clients: 2 });
    }
    await dev.waitFor((x) => x.event === 'unleash-refresh' && eventJson(x).type === 'feature-archived', 2000);
    assert.equal(
      eventJson(await dev.waitFor((x) => x.event === 'unleash-refresh' && eventJson(x).type === 'features-imported', 1))
        .feature,
      null,
    );
  });

  it('relays each Unleash event once: a repeated event id (Unleash retrying, or a second addon) is not sent again', async () => {
    const stream = await connect(tokens.production!);
    const event = { id: 9001, type: 'feature-updated', featureName: 'dedup-me' };
    // Streams opened by earlier tests are still connected: every one of them gets it.
    const first = (await (await post(event)).json()) as { accepted: boolean; clients: number; duplicate?: boolean };
    assert.equal(first.accepted, true);
    assert.ok(first.clients >= 1);
    assert.equal(first.duplicate, undefined);
    assert.deepEqual(await (await post(event)).json(), { accepted: true, clients: 0, duplicate: true });
    // An event without an id (a customised body template) cannot be matched, so it always goes out.
    await post({ type: 'feature-updated', featureName: 'no-id' });
    await post({ type: 'feature-updated', featureName: 'no-id' });
    await stream.waitFor(
      (x) =>
        x.event === 'unleash-refresh' && stream.events.filter((e) => eventJson(e).feature === 'no-id').length === 2,
      2000,
    );
    assert.equal(
      stream.events.filter((e) => e.event === 'unleash-refresh' && eventJson(e).feature === 'dedup-me').length,
      1,
    );
    const bad = await post({ id: -3, type: 'feature-updated' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { path: string } }).error.path, '/id');
  });

  it('reports its configuration and counts at GET /api/admin/integrations/unleash (admin only, no secret)', async () => {
    const res = await fetch(`${server.url}/api/admin/integrations/unleash`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(SECRET), 'the webhook secret is never shown');
    const status = JSON.parse(text) as {
      enabled: boolean;
      webhook: { enabled: boolean };
      watch: { enabled: boolean };
      hintsSent: { webhook: number; watch: number; relay: number };
      clients: number;
    };
    assert.equal(status.enabled, true);
    assert.equal(status.webhook.enabled, true);
    assert.deepEqual(status.watch, { enabled: false });
    assert.ok(status.hintsSent.webhook >= 1);
    assert.equal(status.hintsSent.watch, 0);
    assert.ok(status.clients >= 1);
    const asClient = await fetch(`${server.url}/api/admin/integrations/unleash`, {
      headers: { authorization: `Bearer ${tokens.production}` },
    });
    assert.equal(asClient.status, 403);
    assert.equal((await fetch(`${server.url}/api/admin/integrations/unleash`)).status, 401);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /rc_unleash_hints_total\{source="webhook"\} [1-9]/);
  });

  it('accepts and ignores events that change no feature (202, nothing sent)', async () => {
    const stream = await connect(tokens.production!);
    const before = stream.events.length;
    for (const type of ['addon-config-created', 'user-created', 'featurex']) {
      const res = await post({ type, createdAt: new Date().toISOString() });
      assert.equal(res.status, 202);
      const body = (await res.json()) as { accepted: boolean; reason: string };
      assert.equal(body.accepted, false);
      assert.match(body.reason, new RegExp(type));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(stream.events.length, before);
  });

  it('keeps the stream alive with heartbeats and refuses missing or admin tokens', async () => {
    const stream = await connect(tokens.development!);
    const start = stream.comments;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(stream.comments > start, 'heartbeat comments');
    const anonymous = await fetch(`${server.url}/api/integrations/unleash/stream`);
    assert.equal(anonymous.status, 401);
    const admin = await fetch(`${server.url}/api/integrations/unleash/stream`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    assert.equal(admin.status, 403);
  });
});

describe('Unleash webhook bridge without RC_UNLEASH_WEBHOOK_SECRET', () => {
  it('answers 404 on both routes', async () => {
    const t = await createTestApp();
    try {
      const webhook = await t.app.inject({
        method: 'POST',
        url: '/api/integrations/unleash/webhook',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
        payload: { type: 'feature-updated' },
      });
      assert.equal(webhook.statusCode, 404);
      assert.match(webhook.json().error.message, /RC_UNLEASH_WEBHOOK_SECRET/);
      const stream = await t.app.inject({
        url: '/api/integrations/unleash/stream',
        headers: await t.clientHeaders('production'),
      });
      assert.equal(stream.statusCode, 404);
    } finally {
      await t.close();
    }
  });

  it('refuses a secret too short to be one', async () => {
    await assert.rejects(createTestApp({ RC_UNLEASH_WEBHOOK_SECRET: 'short' }), /RC_UNLEASH_WEBHOOK_SECRET/);
  });
});
