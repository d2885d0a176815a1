import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, openSse, type SseClient } from '@runtime-control/testkit';
import { type RunningServer, startServer } from './server.js';
import { booleanFlag, createTestApp, TEST_ADMIN_TOKEN, type TestApp } from './testing/test-app.js';

/** Issue 9 items 7 and 9: the smaller holes, one test (or a few) each. */

const ALLOWED = 'https://app.example.com';
const EVIL = 'https://evil.example';

async function withApp(env: Record<string, string>, fn: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await createTestApp(env);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

describe('per-token stream limit (RC_MAX_STREAMS_PER_TOKEN)', () => {
  let server: RunningServer;
  let dataDir: string;
  const streams: SseClient[] = [];
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const token = async () => {
    const res = await fetch(`${server.url}/api/admin/tokens`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ kind: 'client', environment: 'production' }),
    });
    return ((await res.json()) as { token: string }).token;
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rc-stream-limit-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        RC_LOG_LEVEL: 'silent',
        RC_MAX_STREAMS_PER_TOKEN: '2',
        RC_UNLEASH_WEBHOOK_SECRET: 'stream-limit-webhook-secret-0123456789',
      },
      print: () => {},
      defaultMetrics: false,
    });
  });
  after(async () => {
    for (const s of streams) s.close();
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 429 RATE_LIMITED beyond the limit on every stream route; other tokens and a freed slot are fine', async () => {
    const full = await token();
    const auth = { authorization: `Bearer ${full}` };
    for (const path of ['/api/client/stream', '/ofrep/v1/sse']) {
      const s = await openSse(`${server.url}${path}`, { headers: auth });
      streams.push(s);
      assert.equal(s.status, 200);
    }
    for (const path of ['/api/client/stream', '/ofrep/v1/sse', '/api/integrations/unleash/stream']) {
      const res = await fetch(`${server.url}${path}`, { headers: auth });
      assert.equal(res.status, 429, path);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'RATE_LIMITED', path);
      assert.match(body.error.message, /RC_MAX_STREAMS_PER_TOKEN/);
    }
    const other = await openSse(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    streams.push(other);
    assert.equal(other.status, 200, 'another token has its own limit');

    streams[0]!.close();
    // The server notices the closed socket shortly after; then the token has a free slot again.
    const again = await eventually(
      async () => {
        const s = await openSse(`${server.url}/api/client/stream`, { headers: auth }).catch(() => undefined);
        if (s) streams.push(s);
        return s;
      },
      2000,
      'the closed stream frees its slot',
    );
    assert.equal(again.status, 200);
  });

  it('HEAD on a stream route answers its headers at once instead of hanging', async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    for (const path of ['/api/client/stream', '/ofrep/v1/sse', '/api/integrations/unleash/stream']) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'HEAD',
        headers: auth,
        signal: AbortSignal.timeout(2000),
      });
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers.get('content-type')), /text\/event-stream/);
    }
  });

  it('SSE answers Access-Control-Allow-Origin only for allowed origins (none configured here)', async () => {
    const res = await fetch(`${server.url}/ofrep/v1/sse`, {
      headers: { authorization: `Bearer ${await token()}`, origin: EVIL },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null, 'an unlisted Origin is not echoed');
    await res.body?.cancel();
  });
});

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

describe('CORS (RC_CORS_ORIGINS)', () => {
  it('answers allowed origins only, preflight included; unset means no CORS headers at all', async () => {
    await withApp({ RC_CORS_ORIGINS: `${ALLOWED}, https://other.example.com:8443` }, async (t) => {
      const client = await t.clientHeaders('production');
      const preflight = await t.app.inject({
        method: 'OPTIONS',
        url: '/ofrep/v1/evaluate/flags',
        headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
      });
      assert.equal(preflight.statusCode, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], ALLOWED);
      assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
      assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);

      const evilPreflight = await t.app.inject({
        method: 'OPTIONS',
        url: '/ofrep/v1/evaluate/flags',
        headers: { origin: EVIL, 'access-control-request-method': 'POST' },
      });
      assert.equal(evilPreflight.headers['access-control-allow-origin'], undefined);
      assert.notEqual(evilPreflight.statusCode, 204);

      const allowed = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: { ...client, origin: ALLOWED },
        payload: { context: {} },
      });
      assert.equal(allowed.statusCode, 200);
      assert.equal(allowed.headers['access-control-allow-origin'], ALLOWED);
      const evil = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: { ...client, origin: EVIL },
        payload: { context: {} },
      });
      assert.equal(evil.statusCode, 200);
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
    });
    await withApp({}, async (t) => {
      const res = await t.app.inject({
        method: 'OPTIONS',
        url: '/ofrep/v1/evaluate/flags',
        headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
      });
      assert.equal(res.headers['access-control-allow-origin'], undefined);
    });
  });

  it('refuses a CORS origin that is not an exact origin', async () => {
    for (const bad of ['*', 'https://app.example.com/', 'app.example.com', 'https://*.example.com']) {
      await assert.rejects(createTestApp({ RC_CORS_ORIGINS: bad }), /RC_CORS_ORIGINS/, bad);
    }
  });

  it('SSE streams echo an allowed Origin and no other', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'rc-cors-sse-'));
    const server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN, RC_LOG_LEVEL: 'silent', RC_CORS_ORIGINS: ALLOWED },
      print: () => {},
      defaultMetrics: false,
    });
    try {
      const created = await fetch(`${server.url}/api/admin/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'client', environment: 'production' }),
      });
      const token = ((await created.json()) as { token: string }).token;
      for (const path of ['/ofrep/v1/sse', '/api/client/stream']) {
        for (const [origin, expected] of [
          [ALLOWED, ALLOWED],
          [EVIL, null],
        ] as const) {
          const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}`, origin } });
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('access-control-allow-origin'), expected, `${path} from ${origin}`);
          await res.body?.cancel();
        }
      }
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('OFREP eventStreams URL', () => {
  it('never comes from the Host header: RC_PUBLIC_URL, else the configured host and port', async () => {
    await withApp({ RC_PORT: '4555' }, async (t) => {
      const client = await t.clientHeaders('production');
      const res = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: { ...client, host: 'evil.example:666', 'x-forwarded-host': 'evil.example' },
        payload: { context: {} },
      });
      const url = res.json().eventStreams[0].url as string;
      assert.ok(!url.includes('evil'), url);
      assert.ok(url.startsWith('http://127.0.0.1:4555/ofrep/v1/sse?key='), url);
    });
    await withApp({ RC_PUBLIC_URL: 'https://flags.example.com/' }, async (t) => {
      const client = await t.clientHeaders('production');
      const res = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: { ...client, host: 'evil.example' },
        payload: { context: {} },
      });
      assert.ok(res.json().eventStreams[0].url.startsWith('https://flags.example.com/ofrep/v1/sse?key='));
    });
  });
});

describe('authentication runs before the body is parsed', () => {
  it('a malformed or oversized body without a valid token gets 401, not 400/413', async () => {
    await withApp({ RC_BODY_LIMIT_BYTES: '2048' }, async (t) => {
      const huge = `{"key":"${'x'.repeat(1024 * 1024)}"}`;
      for (const url of ['/api/admin/flags', '/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/k']) {
        for (const [what, payload] of [
          ['malformed', '{'],
          ['1 MB', huge],
        ] as const) {
          for (const headers of [
            { 'content-type': 'application/json' },
            { 'content-type': 'application/json', authorization: 'Bearer rc_client_wrong' },
          ]) {
            const res = await t.app.inject({ method: 'POST', url, headers, payload });
            assert.equal(res.statusCode, 401, `${what} body to ${url} (${headers.authorization ?? 'no token'})`);
            assert.equal(res.json().error.code, 'UNAUTHORIZED');
          }
        }
      }
      // With a valid token the body is parsed as before.
      const malformed = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: '{' });
      assert.equal(malformed.statusCode, 400);
      const tooLarge = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: huge });
      assert.equal(tooLarge.statusCode, 413);
    });
  });
});

describe('/metrics', () => {
  it('needs RC_METRICS_TOKEN as a bearer token when it is set, and is open otherwise', async () => {
    const metricsToken = 'metrics-scrape-token-0123456789';
    await withApp({ RC_METRICS_TOKEN: metricsToken }, async (t) => {
      for (const authorization of [
        undefined,
        'Bearer wrong-token-0123456789',
        `Basic ${metricsToken}`,
        TEST_ADMIN_TOKEN,
      ]) {
        const res = await t.app.inject({
          method: 'GET',
          url: '/metrics',
          headers: authorization ? { authorization } : {},
        });
        assert.equal(res.statusCode, 401, String(authorization));
        assert.equal(res.json().error.code, 'UNAUTHORIZED');
        assert.ok(!res.body.includes(metricsToken));
      }
      const ok = await t.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      assert.equal(ok.statusCode, 200);
      assert.match(ok.body, /rc_http_request_duration_seconds|rc_sse_clients/);
      assert.ok(!t.logs.some((l) => l.includes(metricsToken)), 'the metrics token reached the log');
    });
    await withApp({}, async (t) => {
      assert.equal((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    });
  });

  it('never shows the variant names of sensitive flags', async () => {
    await withApp({}, async (t) => {
      const secretVariant = 'variant-name-sentinel-7f3a';
      const flag = {
        key: 'payment-provider',
        type: 'string',
        sensitive: true,
        variants: { [secretVariant]: 'acme', plain: 'other' },
        defaultVariant: secretVariant,
        environments: { development: { state: 'ENABLED' }, production: { state: 'ENABLED' } },
      };
      const created = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: flag });
      assert.equal(created.statusCode, 201, created.body);
      const open = booleanFlag('open-flag');
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: open })).statusCode,
        201,
      );
      const client = await t.clientHeaders('production');
      const single = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags/payment-provider',
        headers: client,
        payload: { context: {} },
      });
      assert.equal(single.statusCode, 200);
      await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: client,
        payload: { context: {} },
      });
      const debug = await t.app.inject({
        method: 'POST',
        url: '/api/admin/evaluate',
        headers: t.admin,
        payload: { environment: 'production', context: {} },
      });
      assert.equal(debug.statusCode, 200);
      const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.ok(!metrics.includes(secretVariant), 'a sensitive variant name is in /metrics');
      assert.match(metrics, /rc_flag_evaluations_total\{[^}]*flag="payment-provider"[^}]*variant="\[sensitive\]"/);
      assert.match(metrics, /rc_flag_evaluations_total\{[^}]*flag="open-flag"[^}]*variant="off"/);
    });
  });
});

describe('audit actor of the root admin token', () => {
  it('no API token can be named like the root token, so "admin" in the audit log is always RC_ADMIN_TOKEN', async () => {
    await withApp({}, async (t) => {
      for (const name of ['admin', 'Admin', ' admin ', 'admin (alice)', 'admin#1234abcd']) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/admin/tokens',
          headers: t.admin,
          payload: { kind: 'admin', name },
        });
        assert.equal(res.statusCode, 400, name);
        assert.equal(res.json().error.code, 'VALIDATION_FAILED');
        assert.equal(res.json().error.path, '/name');
        assert.equal(res.json().error.details[0].code, 'RESERVED_NAME');
      }
      const ok = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens',
        headers: t.admin,
        payload: { kind: 'admin', name: 'administrator' },
      });
      assert.equal(ok.statusCode, 201);

      // A token stored with the name "admin" before this rule (written directly to the store here).
      const legacyToken = 'rc_admin_legacy-token-with-reserved-name-0123';
      const legacy = await t.store.createToken(
        {
          id: '0d6f504c-e71f-4996-9fc3-4a3b2c1d0e0f',
          name: 'admin',
          kind: 'admin',
          environment: null,
          hash: hashOf(legacyToken),
        },
        { name: 'test' },
      );
      await t.rt.state.catchUp('write');
      const byRoot = await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: t.admin,
        payload: booleanFlag('by-root'),
      });
      assert.equal(byRoot.statusCode, 201);
      const byLegacy = await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: { authorization: `Bearer ${legacyToken}`, 'content-type': 'application/json' },
        payload: booleanFlag('by-legacy'),
      });
      assert.equal(byLegacy.statusCode, 201);
      const audit = await t.app.inject({ method: 'GET', url: '/api/admin/audit', headers: t.admin });
      const actorOf = (flag: string) =>
        (audit.json().records as { entityKey: string; actor: string }[]).find((r) => r.entityKey === flag)?.actor;
      assert.equal(actorOf('by-root'), 'admin');
      assert.equal(actorOf('by-legacy'), `admin#${legacy.id.slice(0, 8)}`);
    });
  });
});

describe('override of a prototype key', () => {
  it('PUT/DELETE …/overrides/__proto__ (and constructor, prototype) is 400 naming the path; nothing is written', async () => {
    await withApp({}, async (t) => {
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('k') }))
          .statusCode,
        201,
      );
      const before = { revision: await t.store.currentRevision(), flag: await t.store.getFlag('k') };
      for (const key of ['__proto__', 'constructor', 'prototype']) {
        for (const method of ['PUT', 'DELETE'] as const) {
          const res = await t.app.inject({
            method,
            url: `/api/admin/flags/k/environments/production/overrides/${key}`,
            headers: t.admin,
            ...(method === 'PUT' ? { payload: { variant: 'on' } } : {}),
          });
          assert.equal(res.statusCode, 400, `${method} ${key}: ${res.body}`);
          const error = res.json().error;
          assert.equal(error.code, 'VALIDATION_FAILED');
          assert.equal(error.path, `/environments/production/overrides/${key}`);
        }
      }
      assert.deepEqual({ revision: await t.store.currentRevision(), flag: await t.store.getFlag('k') }, before);
      const ok = await t.app.inject({
        method: 'PUT',
        url: '/api/admin/flags/k/environments/production/overrides/u-1',
        headers: t.admin,
        payload: { variant: 'on' },
      });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(ok.json().environments.production.overrides, { 'u-1': 'on' });
    });
  });
});
