import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, requireTestDatabaseUrl, serviceOrFail } from '@runtime-control/testkit';
import { createPostgresStore } from '../../store/postgres-store.js';
import type { Store } from '../../store/store.js';
import { booleanFlag, createTestApp, type TestApp } from '../../testing/test-app.js';

/**
 * `POST /api/admin/flag-batches` (seeding many flags): validated in full as single creates are, all or nothing, a
 * revision and an audit record per created flag, existing keys left as they are. Run on both stores.
 */
function suite(open: () => Promise<{ store?: Store; drop(): Promise<void> }>) {
  let t: TestApp;
  let drop: () => Promise<void> = async () => {};

  const call = async (method: string, url: string, payload?: unknown) =>
    t.app.inject({
      method: method as 'GET',
      url,
      headers: t.admin,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const revision = async () => (await call('GET', '/api/admin/flags')).json().revision as number;

  before(async () => {
    const opened = await open();
    drop = opened.drop;
    t = await createTestApp({}, opened.store);
    assert.equal(
      (await call('PUT', '/api/admin/evaluators/staff', { in: [{ var: 'email' }, ['a@x.io']] })).statusCode,
      200,
    );
  });
  after(async () => {
    await t?.close();
    await drop();
  });

  it('creates every flag, each its own audited revision, and the replica serves them at once', async () => {
    const before = await revision();
    const existing = await call('POST', '/api/admin/flags', booleanFlag('bulk-existing', { description: 'mine' }));
    assert.equal(existing.statusCode, 201, existing.body);
    const res = await call('POST', '/api/admin/flag-batches', {
      flags: [
        booleanFlag('bulk-a'),
        booleanFlag('bulk-existing', { description: 'from the file' }),
        booleanFlag('bulk-b', {
          environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'staff' }, 'on', null] } } },
        }),
      ],
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.created, ['bulk-a', 'bulk-b']);
    assert.deepEqual(body.existing, ['bulk-existing']);
    assert.equal(body.revision, before + 3);
    assert.equal(await revision(), before + 3);
    const kept = await call('GET', '/api/admin/flags/bulk-existing');
    assert.equal(kept.json().description, 'mine');
    const audit = (await call('GET', '/api/admin/audit?flag=bulk-b')).json().records;
    assert.deepEqual(
      audit.map((r: { action: string; revision: number }) => [r.action, r.revision]),
      [['create', before + 3]],
    );
    assert.equal((await call('GET', '/api/admin/audit?flag=bulk-a')).json().records[0].revision, before + 2);
    const client = await t.clientHeaders('production');
    const evaluated = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/bulk-b',
      headers: client,
      payload: { context: { targetingKey: 'u', email: 'a@x.io' } },
    });
    assert.equal(evaluated.statusCode, 200, evaluated.body);
    assert.equal(evaluated.json().value, true);
  });

  it('writes nothing when one flag is refused, and names every refused field by its index', async () => {
    const before = await revision();
    const res = await call('POST', '/api/admin/flag-batches', {
      flags: [
        booleanFlag('refused-ok'),
        booleanFlag('refused-bad', { defaultVariant: 'missing' }),
        booleanFlag('refused-rule', {
          environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'nobody' }, 'on', null] } } },
        }),
      ],
    });
    assert.equal(res.statusCode, 400, res.body);
    const { error } = res.json();
    assert.equal(error.code, 'VALIDATION_FAILED');
    const paths = error.details.map((d: { path: string }) => d.path);
    assert.ok(paths.includes('/flags/1/defaultVariant'), JSON.stringify(paths));
    assert.ok(
      paths.some((p: string) => p.startsWith('/flags/2/environments/production/targeting')),
      JSON.stringify(paths),
    );
    assert.ok(!paths.some((p: string) => p.startsWith('/flags/0')), JSON.stringify(paths));
    assert.equal(await revision(), before);
    assert.equal((await call('GET', '/api/admin/flags/refused-ok')).statusCode, 404);
  });

  it('refuses a key named twice, an empty batch and a malformed body with 400, never 500', async () => {
    const before = await revision();
    const twice = await call('POST', '/api/admin/flag-batches', {
      flags: [booleanFlag('twice'), booleanFlag('twice')],
    });
    assert.equal(twice.statusCode, 400, twice.body);
    assert.equal(twice.json().error.code, 'VALIDATION_FAILED');
    assert.equal(twice.json().error.details[0].path, '/flags/1/key');
    for (const payload of [
      { flags: [] },
      { flags: 'x' },
      {},
      { flags: [booleanFlag('x')], extra: 1 },
      { flags: [42] },
    ]) {
      const res = await call('POST', '/api/admin/flag-batches', payload);
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)}: ${res.body}`);
      assert.equal(typeof res.json().error.code, 'string');
    }
    assert.equal(await revision(), before);
  });
}

describe('bulk flag create (SQLite)', () => {
  suite(async () => ({ drop: async () => {} }));
});

describe('bulk flag create (PostgreSQL)', serviceOrFail('RC_TEST_DATABASE_URL', requireTestDatabaseUrl()), () => {
  suite(async () => {
    const db = await createTestDatabase(requireTestDatabaseUrl()!, { prefix: 'rc_flags_bulk' });
    return { store: await createPostgresStore(db.url), drop: () => db.drop() };
  });
});
