import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { booleanFlag, createTestApp, type TestApp } from '../../testing/test-app.js';

/** `POST /api/admin/flags/{key}/revert`: an earlier version back as a new write, validated and audited as a revert. */
describe('flag revert', () => {
  let t: TestApp;

  const call = async (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: method as 'GET',
      url,
      headers: { ...t.admin, ...headers },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const revision = async () => (await call('GET', '/api/admin/flags')).json().revision as number;
  const auditOf = async (key: string) => (await call('GET', `/api/admin/audit?flag=${key}`)).json().records;

  before(async () => {
    t = await createTestApp();
  });
  after(() => t?.close());

  it('replaces the flag with the version after that change; audited as revert with the actor; If-Match checked', async () => {
    const v1 = booleanFlag('checkout', { description: 'first' });
    const created = await call('POST', '/api/admin/flags', v1);
    assert.equal(created.statusCode, 201, created.body);
    const r1 = Number(JSON.parse(created.headers.etag as string));
    const edited = await call('PUT', '/api/admin/flags/checkout', {
      ...v1,
      description: 'second',
      defaultVariant: 'on',
    });
    assert.equal(edited.statusCode, 200, edited.body);

    const stale = await call('POST', '/api/admin/flags/checkout/revert', { revision: r1 }, { 'if-match': `"${r1}"` });
    assert.equal(stale.statusCode, 412, stale.body);

    const reverted = await call(
      'POST',
      '/api/admin/flags/checkout/revert',
      { revision: r1 },
      { 'if-match': edited.headers.etag as string, 'x-rc-actor': 'alice' },
    );
    assert.equal(reverted.statusCode, 200, reverted.body);
    assert.deepEqual(reverted.json(), { ...v1, key: 'checkout' });
    assert.equal(reverted.headers.etag, `"${await revision()}"`);
    assert.deepEqual((await call('GET', '/api/admin/flags/checkout')).json(), reverted.json());
    const [last] = await auditOf('checkout');
    assert.equal(last.action, 'revert');
    assert.match(last.actor, /\(alice\)$/);
    assert.equal(last.before.description, 'second');
    assert.equal(last.after.description, 'first');
  });

  it('refuses, writing nothing: another flag’s revision, a deleting revision, a malformed body, a missing flag', async () => {
    await call('POST', '/api/admin/flags', booleanFlag('gone'));
    const deleted = await call('DELETE', '/api/admin/flags/gone');
    assert.equal(deleted.statusCode, 204);
    const deletedAt = await revision();
    await call('POST', '/api/admin/flags', booleanFlag('gone'));
    const other = await call('POST', '/api/admin/flags', booleanFlag('other'));
    const otherAt = Number(JSON.parse(other.headers.etag as string));
    const before = await revision();

    const cases: [unknown, number, string][] = [
      [{ revision: otherAt }, 404, 'REVISION_NOT_FOUND'],
      [{ revision: 999_999 }, 404, 'REVISION_NOT_FOUND'],
      [{ revision: deletedAt }, 409, 'REVERT_TARGET_DELETED'],
      [{ revision: 0 }, 400, 'VALIDATION_FAILED'],
      [{ revision: '3' }, 400, 'VALIDATION_FAILED'],
      [{ revision: 1, extra: true }, 400, 'VALIDATION_FAILED'],
      [{}, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const res = await call('POST', '/api/admin/flags/gone/revert', body);
      assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().error.code, code, res.body);
      if (code !== 'VALIDATION_FAILED') assert.equal(res.json().error.path, '/revision');
      else assert.match(res.json().error.path ?? '', /revision|extra|^\/?$/, res.body);
    }
    const missing = await call('POST', '/api/admin/flags/never-was/revert', { revision: otherAt });
    assert.equal(missing.statusCode, 404, missing.body);
    assert.equal(await revision(), before, 'nothing was written');
  });

  it('validates the old version as any write today: one using an evaluator that is gone is refused', async () => {
    assert.equal(
      (await call('PUT', '/api/admin/evaluators/beta', { in: [{ var: 'targetingKey' }, ['u-b']] })).statusCode,
      200,
    );
    const v1 = booleanFlag('beta-only', {
      environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'beta' }, 'on', null] } } },
    });
    const created = await call('POST', '/api/admin/flags', v1);
    assert.equal(created.statusCode, 201, created.body);
    const r1 = Number(JSON.parse(created.headers.etag as string));
    assert.equal((await call('PUT', '/api/admin/flags/beta-only', booleanFlag('beta-only'))).statusCode, 200);
    assert.equal((await call('DELETE', '/api/admin/evaluators/beta')).statusCode, 204);
    const before = await revision();
    const res = await call('POST', '/api/admin/flags/beta-only/revert', { revision: r1 });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.body, /beta/);
    assert.equal(await revision(), before);
  });
});
