import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { booleanFlag, createTestApp, type TestApp } from '../../testing/test-app.js';

describe('operations endpoints', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  it('/health is alive and /health/ready checks the database', async () => {
    assert.deepEqual((await t.app.inject({ url: '/health' })).json(), { status: 'ok' });
    const ready = await t.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().checks.database.status, 'ok');
  });

  it('/health/ready is 503 when the database cannot answer', async () => {
    t.store.ping = async () => {
      throw new Error('connection refused');
    };
    const ready = await t.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json().checks.database, { status: 'error', error: 'connection refused' });
  });

  it('the debug view evaluates every flag for a context and withholds sensitive values', async () => {
    const flags = [
      booleanFlag('plain', {
        environments: { production: { state: 'ENABLED', overrides: { 'u-1': 'on' } } },
      }),
      {
        key: 'secret-routing',
        type: 'string',
        sensitive: true,
        variants: { a: 'internal-host-a', b: 'internal-host-b' },
        defaultVariant: 'a',
        environments: { production: { state: 'ENABLED' } },
      },
      booleanFlag('off-in-prod', { environments: { production: { state: 'DISABLED' } } }),
    ];
    for (const f of flags)
      await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: f });
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/admin/evaluate',
      headers: t.admin,
      payload: { environment: 'production', context: { targetingKey: 'u-1' } },
    });
    assert.equal(res.statusCode, 200);
    const byKey = Object.fromEntries(res.json().flags.map((f: { key: string }) => [f.key, f]));
    assert.deepEqual(byKey.plain, { key: 'plain', reason: 'TARGETING_MATCH', variant: 'on', value: true });
    assert.deepEqual(byKey['secret-routing'], {
      key: 'secret-routing',
      reason: 'STATIC',
      variant: 'a',
      sensitive: true,
    });
    assert.ok(!res.body.includes('internal-host'), 'a sensitive value leaked into the debug view');
    assert.deepEqual(byKey['off-in-prod'], { key: 'off-in-prod', reason: 'DISABLED' });
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/admin/evaluate',
      headers: t.admin,
      payload: { environment: 'staging' },
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.path, '/environment');
  });

  it('/metrics exposes latency, evaluations, SSE clients, revision and propagation lag', async () => {
    await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('k') });
    const client = await t.clientHeaders('production');
    await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/k',
      headers: client,
      payload: { context: {} },
    });
    await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/unknown-1',
      headers: client,
      payload: { context: {} },
    });
    await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/unknown-2',
      headers: client,
      payload: { context: {} },
    });
    const text = (await t.app.inject({ url: '/metrics' })).body;
    for (const family of [
      'rc_http_request_duration_seconds_bucket',
      'rc_flag_evaluations_total',
      'rc_sse_clients',
      'rc_revision',
      'rc_propagation_lag_seconds_bucket',
    ]) {
      assert.ok(text.includes(`# TYPE ${family.replace(/_bucket$/, '')}`), `missing ${family}`);
    }
    assert.match(
      text,
      /rc_flag_evaluations_total\{environment="production",flag="k",variant="off",reason="STATIC"\} 1/,
    );
    // Unknown keys share one label value, so clients cannot blow up cardinality.
    assert.match(text, /flag="__unknown__",variant="",reason="FLAG_NOT_FOUND"\} 2/);
    assert.ok(!text.includes('unknown-1'));
    assert.match(
      text,
      /rc_http_request_duration_seconds_count\{method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="200"\} 1/,
    );
    assert.match(text, new RegExp(`rc_revision ${t.rt.state.revision}`));
  });

  it('the OpenAPI document describes every route the app serves', async () => {
    const doc = (await t.app.inject({ url: '/api/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    const documented = new Set(Object.keys(doc.paths).map((p: string) => p.replace(/\{(\w+)\}/g, ':$1')));
    const missing = t.app.routeList
      .filter((r) => r.url !== '/api/openapi.json')
      .filter((r) => (r.schema as { hide?: boolean } | undefined)?.hide !== true) // the console's page and files
      .filter((r) => !documented.has(r.url) || !doc.paths[r.url.replace(/:(\w+)/g, '{$1}')][r.method.toLowerCase()])
      .map((r) => `${r.method} ${r.url}`);
    assert.ok(t.app.routeList.length > 20);
    assert.deepEqual(missing, [], 'routes missing from the OpenAPI document');
  });

  it('/api is a JSON index', async () => {
    const res = await t.app.inject({ url: '/api' });
    assert.equal(res.json().links.openapi, '/api/openapi.json');
    assert.equal(res.json().storage, 'sqlite');
  });
});
