import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { booleanFlag, createTestApp, type TestApp } from '../testing/test-app.js';

/** The `_count` of `rc_http_request_duration_seconds` for one label set, 0 when the series does not exist. */
function durationCount(metrics: string, method: string, route: string, status: number): number {
  const line = metrics
    .split('\n')
    .find((l) =>
      l.startsWith(`rc_http_request_duration_seconds_count{method="${method}",route="${route}",status="${status}"}`),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

// The per-request hooks are attached route by route, and the OFREP evaluation routes run them fused into their own
// stages (request-hooks.ts): every route must still check its parameters and record its duration, whatever the
// outcome, and no request may be counted twice.
describe('per-request hooks on every route', () => {
  let t: TestApp;
  let client: Record<string, string>;
  const single = '/ofrep/v1/evaluate/flags/:key';
  const bulk = '/ofrep/v1/evaluate/flags';
  before(async () => {
    t = await createTestApp();
    await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('k') });
    client = { ...(await t.clientHeaders('production')), 'content-type': 'application/json' };
  });
  after(async () => t.close());

  async function metrics(): Promise<string> {
    return (await t.app.inject({ url: '/metrics' })).body;
  }

  it('refuses a repeated or unstorable parameter on the evaluation routes and on the others alike', async () => {
    const cases = [
      {
        method: 'POST' as const,
        url: '/ofrep/v1/evaluate/flags/k?a=1&a=2',
        headers: client,
        code: 'REPEATED_PARAMETER',
      },
      { method: 'POST' as const, url: '/ofrep/v1/evaluate/flags?a=%00', headers: client, code: 'INVALID_STRING' },
      { method: 'POST' as const, url: '/ofrep/v1/evaluate/flags/k%00', headers: client, code: 'INVALID_STRING' },
      { method: 'GET' as const, url: '/api/admin/flags?a=1&a=2', headers: t.admin, code: 'REPEATED_PARAMETER' },
      { method: 'GET' as const, url: '/api/admin/flags/k%00', headers: t.admin, code: 'INVALID_STRING' },
    ];
    for (const c of cases) {
      const res = await t.app.inject({
        method: c.method,
        url: c.url,
        headers: c.headers,
        payload: c.method === 'POST' ? {} : undefined,
      });
      assert.equal(res.statusCode, 400, `${c.method} ${c.url}: ${res.body}`);
      assert.equal(res.json().error.code, c.code, `${c.method} ${c.url}`);
    }
  });

  it('checks the token before the parameters and the body on the evaluation routes', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/k?a=1&a=2',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    assert.equal(res.statusCode, 401);
  });

  it('records each request once under its route template, answered or refused at any stage', async () => {
    const before = await metrics();
    const requests: {
      method: 'GET' | 'POST';
      url: string;
      headers?: Record<string, string>;
      payload?: string;
      route: string;
      status: number;
    }[] = [
      { method: 'POST', url: '/ofrep/v1/evaluate/flags/k', headers: client, payload: '{}', route: single, status: 200 },
      {
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags/nope',
        headers: client,
        payload: '{}',
        route: single,
        status: 404,
      },
      { method: 'POST', url: '/ofrep/v1/evaluate/flags/k', payload: '{}', route: single, status: 401 },
      {
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags/k',
        headers: client,
        payload: '{bad',
        route: single,
        status: 400,
      },
      {
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags/k?x=1&x=2',
        headers: client,
        payload: '{}',
        route: single,
        status: 400,
      },
      { method: 'POST', url: '/ofrep/v1/evaluate/flags', headers: client, payload: '{}', route: bulk, status: 200 },
      { method: 'POST', url: '/ofrep/v1/evaluate/flags', headers: client, payload: '[]', route: bulk, status: 400 },
      { method: 'GET', url: '/api/admin/flags', headers: t.admin, route: '/api/admin/flags', status: 200 },
      { method: 'GET', url: '/api/admin/flags', route: '/api/admin/flags', status: 401 },
      { method: 'GET', url: '/api/admin/flags/nope', headers: t.admin, route: '/api/admin/flags/:key', status: 404 },
      { method: 'POST', url: '/api/no/such/route', route: 'unmatched', status: 404 },
      { method: 'GET', url: '/api/no/such/route', route: '/*', status: 404 },
    ];
    const expected = new Map<string, number>();
    for (const r of requests) {
      const res = await t.app.inject(r);
      assert.equal(res.statusCode, r.status, `${r.method} ${r.url}: ${res.body}`);
      const id = `${r.method} ${r.route} ${r.status}`;
      expected.set(id, (expected.get(id) ?? 0) + 1);
    }
    const afterText = await metrics();
    for (const [id, n] of expected) {
      const [method, route, status] = id.split(' ') as [string, string, string];
      const delta =
        durationCount(afterText, method, route, Number(status)) - durationCount(before, method, route, Number(status));
      assert.equal(delta, n, `${id}: recorded ${delta} times, expected ${n}`);
    }
  });

  it('gives a HEAD route its own hooks, once', async () => {
    const before = durationCount(await metrics(), 'HEAD', '/health', 200);
    assert.equal((await t.app.inject({ method: 'HEAD', url: '/health' })).statusCode, 200);
    assert.equal(durationCount(await metrics(), 'HEAD', '/health', 200) - before, 1);
    assert.equal((await t.app.inject({ method: 'HEAD', url: '/health?a=1&a=2' })).statusCode, 400);
  });
});
