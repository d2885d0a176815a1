import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/**
 * `npm start` on a fresh clone: the local backend without any platform file. The list is empty, bundles are defined
 * through the API, rotated, listed; definitions are validated field by field and survive a restart.
 */
// biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
type AnyBody = any;

describe('secrets API without a platform file: bundles defined through the API (local backend)', () => {
  let dir: string;
  let t: TestApp;

  const api = async (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: AnyBody }> => {
    const res = await t.app.inject({
      method,
      url: path,
      headers: t.admin,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rc-secrets-defined-'));
    t = await createTestApp({ RC_DATA_DIR: dir });
  });

  after(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts with no bundles, defines one, rotates it, and keeps it across a restart', async () => {
    assert.deepEqual((await api('GET', '/api/admin/secrets')).body, { backend: 'local', bundles: [] });
    const created = await api('PUT', '/api/admin/secrets/api-gateway/jwt', {
      properties: { JWT_SECRET: 'JWT_SECRET' },
      rotation: { strategy: 'generated', length: 48, alphabet: 'hex', maxAge: '30d' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'missing');
    assert.equal(created.body.path, 'api-gateway/jwt');
    assert.equal(created.body.maxAgeSeconds, 30 * 86400);
    const rotated = await api('POST', '/api/admin/secrets/api-gateway/jwt/rotate', {});
    assert.equal(rotated.status, 202);
    for (let i = 0; i < 50; i++) {
      if (
        (await api('GET', `/api/admin/secrets/api-gateway/jwt/rotations/${rotated.body.id}`)).body.status !== 'running'
      )
        break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const replaced = await api('PUT', '/api/admin/secrets/api-gateway/jwt', {
      properties: { JWT_SECRET: 'JWT_SECRET' },
    });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.state, 'in-sync');
    assert.equal(replaced.body.currentVersion, 1);

    await t.close();
    t = await createTestApp({ RC_DATA_DIR: dir });
    const list = await api('GET', '/api/admin/secrets');
    assert.deepEqual(
      list.body.bundles.map(
        (b: { service: string; bundle: string; state: string }) => `${b.service}/${b.bundle}:${b.state}`,
      ),
      ['api-gateway/jwt:in-sync'],
    );
    assert.equal((await api('DELETE', '/api/admin/secrets/api-gateway/jwt')).status, 204);
    assert.equal((await api('GET', '/api/admin/secrets/api-gateway/jwt')).status, 404);
  });

  it('400 with the field for bad definitions', async () => {
    const cases: [unknown, RegExp][] = [
      [{ properties: {} }, /properties/],
      [{ properties: { A: 'not an env' } }, /\/properties\/A/],
      [{ properties: { A: 'X', B: 'X' } }, /\/properties\/B/],
      [{ properties: { A: 'A' }, path: '/abs//path' }, /\/path/],
      [{ properties: { A: 'A' }, rotation: { strategy: 'supplied', length: 10 } }, /\/rotation/],
      [{ properties: { A: 'A' }, rotation: { strategy: 'generated', maxAge: 'soon' } }, /\/rotation\/maxAge/],
      [{ properties: { A: 'A' }, rotation: { strategy: 'sometimes' } }, /strategy/],
      [{ properties: { A: 'A' }, colour: 'red' }, /colour/],
    ];
    for (const [body, field] of cases) {
      const r = await api('PUT', '/api/admin/secrets/svc/bundle', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'VALIDATION_FAILED');
      assert.match(JSON.stringify(r.body.error), field, JSON.stringify(body));
    }
    assert.equal((await api('DELETE', '/api/admin/secrets/svc/nope')).status, 404);
  });
});
