import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { mapError } from '../../errors/error-mapper.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { consolePlugin } from './console-plugin.js';

const PAGE = `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div>${' '.repeat(2000)}</body></html>`;
const SCRIPT = `console.log("console");${'/* padding */'.repeat(200)}`;

async function appOver(dir: string | undefined): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler((err, req, reply) => mapError(err, req, reply));
  await consolePlugin(app, { dir });
  app.get('/api', async () => ({ name: 'index' }));
  return app;
}

describe('console plugin: serves the built console at /', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), PAGE);
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), SCRIPT);
    writeFileSync(join(dir, 'assets', 'index-abc123.js.map'), '{}');
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    app = await appOver(dir);
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('/ is the page, revalidated on every load, with a content security policy', async () => {
    const res = await app.inject({ url: '/' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.body, PAGE);
  });

  it('hashed assets are cached for a year and gzipped when the client accepts it; ETag gives 304', async () => {
    const res = await app.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(res.rawPayload).toString(), SCRIPT);
    const plain = await app.inject({ url: '/assets/index-abc123.js' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body, SCRIPT);
    const again = await app.inject({
      url: '/assets/index-abc123.js',
      headers: { 'if-none-match': String(res.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    const icon = await app.inject({ url: '/favicon.svg' });
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
    assert.equal(icon.headers['cache-control'], 'no-cache');
  });

  it("the console's own routes get the page (SPA fallback); missing files and source maps are 404s", async () => {
    for (const url of ['/flags', '/flags/new-ui-enabled?env=production', '/tokens']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.body, PAGE, url);
    }
    for (const url of ['/assets/gone-123.js', '/robots.txt', '/assets/index-abc123.js.map', '/../package.json']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().error.code, 'NOT_FOUND', url);
    }
  });

  it('API and operations paths never fall back to the page: JSON 404', async () => {
    for (const url of ['/api/nope', '/api/', '/ofrep/v2', '/health/deep', '/metrics/x', '/api/admin/x?y=1']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8', url);
      assert.equal(res.json().error.code, 'NOT_FOUND', url);
    }
    assert.deepEqual((await app.inject({ url: '/api' })).json(), { name: 'index' });
  });
});

describe('console plugin: the console was not built', () => {
  it('says so: HTML to a browser, a JSON 503 to anything else; the API is untouched', async () => {
    const app = await appOver(join(tmpdir(), 'rc-console-missing-dir'));
    try {
      const html = await app.inject({ url: '/flags', headers: { accept: 'text/html,*/*' } });
      assert.equal(html.statusCode, 503);
      assert.match(html.headers['content-type'] as string, /^text\/html/);
      assert.match(html.body, /console is not built/);
      const json = await app.inject({ url: '/' });
      assert.equal(json.statusCode, 503);
      assert.equal(json.json().error.code, 'UNAVAILABLE');
      assert.match(json.json().error.message, /npm run build/);
      assert.equal((await app.inject({ url: '/api' })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

describe('console in the app', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('the JSON index is at /api; unknown API paths stay JSON 404s; POST / is not the page', async () => {
    const index = await t.app.inject({ url: '/api' });
    assert.equal(index.statusCode, 200);
    assert.equal(index.json().links.openapi, '/api/openapi.json');
    assert.match(index.json().console, /served at \//);
    const missing = await t.app.inject({ url: '/api/admin/nope', headers: t.admin });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'NOT_FOUND');
    const post = await t.app.inject({ method: 'POST', url: '/', payload: {} });
    assert.equal(post.statusCode, 404);
  });
});
