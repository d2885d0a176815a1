import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { booleanFlag, createTestApp, type TestApp } from '../../testing/test-app.js';

/** flagd flag metadata through the API: stored, returned, audited, and served with every OFREP evaluation. */
describe('flag metadata', () => {
  let t: TestApp;
  let client: Record<string, string>;
  const metadata = { owner: 'team-web', ticket: 'WEB-1234', expiresOn: 20270301, temporary: true };

  before(async () => {
    t = await createTestApp();
    client = await t.clientHeaders('production');
  });
  after(() => t?.close());

  it('is stored and returned by the admin API, and served by OFREP (single and bulk) as flagd does', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: t.admin,
      payload: booleanFlag('checkout-v2', { metadata }),
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json().metadata, metadata);
    const read = await t.app.inject({ method: 'GET', url: '/api/admin/flags/checkout-v2', headers: t.admin });
    assert.deepEqual(read.json().metadata, metadata);

    const single = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/checkout-v2',
      headers: client,
      payload: { context: { targetingKey: 'u-1' } },
    });
    assert.equal(single.statusCode, 200, single.body);
    assert.deepEqual(single.json().metadata, metadata);
    const bulk = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags',
      headers: client,
      payload: { context: {} },
    });
    const entry = (bulk.json().flags as { key: string; metadata: unknown }[]).find((f) => f.key === 'checkout-v2');
    assert.deepEqual(entry?.metadata, metadata);

    const snapshot = await t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: client });
    assert.deepEqual(snapshot.json().flags['checkout-v2'].metadata, metadata, 'the SDK gets it in the flagd config');
  });

  it('a change of metadata alone is a change: new revision, audited, served', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/admin/flags/checkout-v2',
      headers: t.admin,
      payload: booleanFlag('checkout-v2', { metadata: { ...metadata, owner: 'team-checkout' } }),
    });
    assert.equal(res.statusCode, 200, res.body);
    const audit = await t.app.inject({ method: 'GET', url: '/api/admin/audit?flag=checkout-v2', headers: t.admin });
    const last = audit.json().records[0];
    assert.equal(last.after.metadata.owner, 'team-checkout');
    assert.equal(last.before.metadata.owner, 'team-web');
    const single = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/checkout-v2',
      headers: client,
      payload: {},
    });
    assert.equal(single.json().metadata.owner, 'team-checkout');
  });

  it('refuses metadata flagd cannot carry, naming the key, and writes nothing', async () => {
    for (const [bad, path, code] of [
      [{ nested: { a: 1 } }, '/metadata/nested', 'INVALID_TYPE'],
      [{ sensitive: true }, '/metadata/sensitive', 'RESERVED_KEY'],
      [{ 'has space': 'x' }, '/metadata/has space', 'INVALID_KEY'],
      ['not an object', '/metadata', 'INVALID_TYPE'],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: t.admin,
        payload: booleanFlag('refused-metadata', { metadata: bad }),
      });
      assert.equal(res.statusCode, 400, res.body);
      const details = res.json().error.details as { path: string; code: string }[];
      assert.ok(
        details.some((d) => d.path === path && d.code === code),
        `${JSON.stringify(bad)}: ${res.body}`,
      );
    }
    const missing = await t.app.inject({ method: 'GET', url: '/api/admin/flags/refused-metadata', headers: t.admin });
    assert.equal(missing.statusCode, 404);
  });
});
