import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { booleanFlag, createTestApp, type TestApp } from '../../testing/test-app.js';

/** The database as the API sees it: every flag plus the revision. A rejected write must leave this unchanged. */
async function snapshot(t: TestApp) {
  return {
    revision: await t.store.currentRevision(),
    flags: await t.store.listFlags(),
    audit: await t.store.queryAudit({}),
  };
}

describe('admin flags API', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  it('creates with 201 and ETag, gets it back, lists it', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: t.admin,
      payload: booleanFlag('k'),
    });
    assert.equal(res.statusCode, 201);
    assert.match(res.headers.etag as string, /^"\d+"$/);
    const got = await t.app.inject({ method: 'GET', url: '/api/admin/flags/k', headers: t.admin });
    assert.equal(got.statusCode, 200);
    assert.equal(got.headers.etag, res.headers.etag);
    assert.deepEqual(got.json(), res.json());
    const list = await t.app.inject({ method: 'GET', url: '/api/admin/flags', headers: t.admin });
    assert.deepEqual(
      list.json().flags.map((f: { key: string }) => f.key),
      ['k'],
    );
  });

  it('accepts the create body from the issue verbatim', async () => {
    const payload =
      '{"key":"k","type":"boolean","variants":{"on":true,"off":false},"defaultVariant":"off","environments":{"development":{"state":"ENABLED"}}}';
    const res = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload });
    assert.equal(res.statusCode, 201, res.body);
  });

  it('answers 409 FLAG_EXISTS on a second create and leaves the flag unchanged', async () => {
    await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('k') });
    const before = await snapshot(t);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: t.admin,
      payload: booleanFlag('k', { defaultVariant: 'on', description: 'changed' }),
    });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().error.code, 'FLAG_EXISTS');
    assert.deepEqual(await snapshot(t), before);
  });

  describe('bad input gets a 4xx with a code and the JSON path, and writes nothing', () => {
    const cases: {
      name: string;
      payload: string | object;
      headers?: Record<string, string>;
      status: number;
      code: string;
      path?: string;
    }[] = [
      { name: 'malformed JSON', payload: '{"key": "k",', status: 400, code: 'MALFORMED_JSON' },
      {
        name: 'a "__proto__" key',
        payload: '{"key": "k", "__proto__": {"polluted": true}}',
        status: 400,
        code: 'MALFORMED_JSON',
      },
      {
        name: 'a "__proto__" key spelled with \\u escapes',
        payload: '{"key": "k", "\\u005f\\u005fproto\\u005f\\u005f": {"polluted": true}}',
        status: 400,
        code: 'MALFORMED_JSON',
      },
      { name: 'not an object', payload: '[1,2]', status: 400, code: 'VALIDATION_FAILED', path: '' },
      {
        name: 'missing type',
        payload: { key: 'k', variants: { on: true }, defaultVariant: 'on' },
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/type',
      },
      { name: 'invalid key', payload: booleanFlag('bad key!'), status: 400, code: 'VALIDATION_FAILED', path: '/key' },
      {
        name: 'unknown property',
        payload: booleanFlag('k', { colour: 'red' }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/colour',
      },
      {
        name: 'variant of the wrong type',
        payload: booleanFlag('k', { variants: { on: 'yes', off: false } }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/variants/on',
      },
      {
        name: 'unknown defaultVariant',
        payload: booleanFlag('k', { defaultVariant: 'maybe' }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/defaultVariant',
      },
      {
        name: 'variant outside the JSON Schema bounds',
        payload: {
          key: 'timeout',
          type: 'number',
          schema: { type: 'integer', minimum: 100, maximum: 60000 },
          variants: { normal: 5000, silly: 99 },
          defaultVariant: 'normal',
        },
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/variants/silly',
      },
      {
        name: 'object variant violating the schema shape',
        payload: {
          key: 'routing',
          type: 'object',
          schema: { type: 'object', required: ['providers'], properties: { providers: { type: 'array' } } },
          variants: { a: { providers: [] }, b: { providers: 'x' } },
          defaultVariant: 'a',
        },
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/variants/b/providers',
      },
      {
        name: 'invalid JsonLogic (unknown operator)',
        payload: booleanFlag('k', {
          environments: { production: { state: 'ENABLED', targeting: { no_such_op: [1] } } },
        }),
        status: 400,
        code: 'INVALID_TARGETING',
        path: '/environments/production/targeting/no_such_op',
      },
      {
        name: 'targeting that is not an object',
        payload: booleanFlag('k', { environments: { production: { state: 'ENABLED', targeting: 'on' } } }),
        status: 400,
        code: 'INVALID_TARGETING',
        path: '/environments/production/targeting',
      },
      {
        name: '$ref to an unknown evaluator',
        payload: booleanFlag('k', {
          environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'nobody' }, 'on', null] } } },
        }),
        status: 400,
        code: 'INVALID_TARGETING',
        path: '/environments/production/targeting',
      },
      {
        name: 'unknown environment',
        payload: booleanFlag('k', { environments: { staging: { state: 'ENABLED' } } }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/environments/staging',
      },
      {
        name: 'bad state',
        payload: booleanFlag('k', { environments: { production: { state: 'ON' } } }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/environments/production/state',
      },
      {
        name: 'override naming an unknown variant',
        payload: booleanFlag('k', {
          environments: { production: { state: 'ENABLED', overrides: { 'u-1': 'maybe' } } },
        }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/environments/production/overrides/u-1',
      },
      {
        name: 'rollout percentage out of range',
        payload: booleanFlag('k', {
          environments: { production: { state: 'ENABLED', rollout: { variant: 'on', percentage: 101 } } },
        }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/environments/production/rollout/percentage',
      },
      {
        name: 'schema on a boolean flag',
        payload: booleanFlag('k', { schema: { type: 'boolean' } }),
        status: 400,
        code: 'VALIDATION_FAILED',
        path: '/schema',
      },
      {
        name: 'oversize body',
        payload: booleanFlag('k', { description: 'x'.repeat(2 * 1024 * 1024) }),
        status: 413,
        code: 'BODY_TOO_LARGE',
      },
      {
        name: 'wrong content type',
        payload: 'key=k',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const t2 = await createTestApp();
        try {
          await t2.app.inject({
            method: 'POST',
            url: '/api/admin/flags',
            headers: t2.admin,
            payload: booleanFlag('existing'),
          });
          const before = await snapshot(t2);
          const res = await t2.app.inject({
            method: 'POST',
            url: '/api/admin/flags',
            headers: { ...t2.admin, ...c.headers },
            payload: typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload),
          });
          assert.equal(res.statusCode, c.status, res.body.slice(0, 300));
          const body = res.json();
          assert.equal(body.error.code, c.code);
          assert.equal(typeof body.error.message, 'string');
          if (c.path !== undefined) assert.equal(body.error.path, c.path);
          assert.deepEqual(await snapshot(t2), before, 'a rejected write changed the database');
        } finally {
          await t2.close();
        }
      });
    }

    it('a client token on the admin API is refused with 403 WRONG_TOKEN_KIND and writes nothing', async () => {
      const client = await t.clientHeaders('development');
      const before = await snapshot(t);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: client,
        payload: booleanFlag('k'),
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().error.code, 'WRONG_TOKEN_KIND');
      assert.deepEqual(await snapshot(t), before);
    });

    it('no token and an unknown token get 401', async () => {
      for (const headers of [{}, { authorization: 'Bearer nope-nope-nope' }]) {
        const res = await t.app.inject({ method: 'GET', url: '/api/admin/flags', headers });
        assert.equal(res.statusCode, 401);
        assert.equal(res.json().error.code, 'UNAUTHORIZED');
      }
    });

    it('PATCH with a bad state reports the path inside the PATCH body', async () => {
      await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: booleanFlag('k') });
      const before = await snapshot(t);
      const res = await t.app.inject({
        method: 'PATCH',
        url: '/api/admin/flags/k/environments/production',
        headers: t.admin,
        payload: { state: 'MAYBE' },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error.path, '/state');
      assert.deepEqual(await snapshot(t), before);
    });
  });

  describe('optimistic concurrency', () => {
    it('two concurrent edits with the same ETag: one 200, one 412, no lost update', async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: t.admin,
        payload: booleanFlag('k'),
      });
      const etag = created.headers.etag as string;
      const [a, b] = await Promise.all([
        t.app.inject({
          method: 'PUT',
          url: '/api/admin/flags/k',
          headers: { ...t.admin, 'if-match': etag },
          payload: booleanFlag('k', { description: 'edit A' }),
        }),
        t.app.inject({
          method: 'PATCH',
          url: '/api/admin/flags/k/environments/production',
          headers: { ...t.admin, 'if-match': etag },
          payload: { state: 'DISABLED' },
        }),
      ]);
      const statuses = [a.statusCode, b.statusCode].sort();
      assert.deepEqual(statuses, [200, 412]);
      const loser = a.statusCode === 412 ? a : b;
      assert.equal(loser.json().error.code, 'PRECONDITION_FAILED');
      const final = (await t.app.inject({ method: 'GET', url: '/api/admin/flags/k', headers: t.admin })).json();
      if (a.statusCode === 200) {
        assert.equal(final.description, 'edit A');
        assert.equal(final.environments.production.state, 'ENABLED');
      } else {
        assert.equal(final.description, undefined);
        assert.equal(final.environments.production.state, 'DISABLED');
      }
    });

    it('a stale If-Match on delete is 412 and the flag stays', async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: t.admin,
        payload: booleanFlag('k'),
      });
      await t.app.inject({
        method: 'PATCH',
        url: '/api/admin/flags/k/environments/production',
        headers: t.admin,
        payload: { state: 'DISABLED' },
      });
      const res = await t.app.inject({
        method: 'DELETE',
        url: '/api/admin/flags/k',
        headers: { ...t.admin, 'if-match': created.headers.etag as string },
      });
      assert.equal(res.statusCode, 412);
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/api/admin/flags/k', headers: t.admin })).statusCode,
        200,
      );
    });
  });

  describe('per-environment changes and audit', () => {
    it('turns a flag on for one user in production, sets a rollout, and records who did what', async () => {
      await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: t.admin,
        payload: booleanFlag('new-ui-enabled'),
      });
      const set = await t.app.inject({
        method: 'PUT',
        url: '/api/admin/flags/new-ui-enabled/environments/production/overrides/u-123',
        headers: { ...t.admin, 'x-rc-actor': 'alice' },
        payload: { variant: 'on' },
      });
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual(set.json().environments.production.overrides, { 'u-123': 'on' });
      const rollout = await t.app.inject({
        method: 'PATCH',
        url: '/api/admin/flags/new-ui-enabled/environments/production',
        headers: t.admin,
        payload: { rollout: { variant: 'on', percentage: 25 } },
      });
      assert.equal(rollout.statusCode, 200);
      const client = await t.clientHeaders('production');
      const evalFor = async (targetingKey: string) =>
        (
          await t.app.inject({
            method: 'POST',
            url: '/ofrep/v1/evaluate/flags/new-ui-enabled',
            headers: client,
            payload: { context: { targetingKey } },
          })
        ).json();
      assert.equal((await evalFor('u-123')).value, true);
      let inRollout = 0;
      for (let i = 0; i < 2000; i++) if ((await evalFor(`user-${i}`)).value === true) inRollout++;
      assert.ok(inRollout > 400 && inRollout < 600, `25 % rollout gave ${inRollout}/2000`);

      const removed = await t.app.inject({
        method: 'DELETE',
        url: '/api/admin/flags/new-ui-enabled/environments/production/overrides/u-123',
        headers: t.admin,
      });
      assert.equal(removed.json().environments.production.overrides, undefined);

      const audit = await t.app.inject({
        method: 'GET',
        url: '/api/admin/audit?flag=new-ui-enabled&actor=admin%20(alice)',
        headers: t.admin,
      });
      const records = audit.json().records;
      assert.equal(records.length, 1);
      assert.equal(records[0].action, 'update');
      assert.equal(records[0].before.environments.production.overrides, undefined);
      assert.deepEqual(records[0].after.environments.production.overrides, { 'u-123': 'on' });
      const all = (
        await t.app.inject({ method: 'GET', url: '/api/admin/audit?flag=new-ui-enabled', headers: t.admin })
      ).json();
      assert.equal(all.records.length, 4);
      assert.ok(all.records[0].revision > all.records[1].revision, 'newest first');
      const bad = await t.app.inject({ method: 'GET', url: '/api/admin/audit?since=yesterday', headers: t.admin });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().error.path, 'since');
    });

    it('shared evaluators back $ref and cannot be deleted while used', async () => {
      const put = await t.app.inject({
        method: 'PUT',
        url: '/api/admin/evaluators/testers',
        headers: t.admin,
        payload: { in: [{ var: 'targetingKey' }, ['u-1']] },
      });
      assert.equal(put.statusCode, 200, put.body);
      const flag = booleanFlag('k', {
        environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'testers' }, 'on', null] } } },
      });
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: flag })).statusCode,
        201,
      );
      const client = await t.clientHeaders('production');
      const res = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags/k',
        headers: client,
        payload: { context: { targetingKey: 'u-1' } },
      });
      assert.deepEqual([res.json().value, res.json().reason], [true, 'TARGETING_MATCH']);
      const del = await t.app.inject({ method: 'DELETE', url: '/api/admin/evaluators/testers', headers: t.admin });
      assert.equal(del.statusCode, 409);
      assert.equal(del.json().error.code, 'EVALUATOR_IN_USE');
    });

    it('unknown routes and flags are JSON 404s', async () => {
      const a = await t.app.inject({ method: 'GET', url: '/api/admin/flags/nope', headers: t.admin });
      assert.equal(a.statusCode, 404);
      assert.equal(a.json().error.code, 'FLAG_NOT_FOUND');
      // Paths outside the console's (the API's prefixes) are JSON 404s; others are the console's client-side routes.
      for (const url of ['/api/nowhere', '/api/admin/nowhere', '/ofrep/v1/nowhere', '/health/nowhere']) {
        const b = await t.app.inject({ method: 'GET', url, headers: t.admin });
        assert.equal(b.statusCode, 404, url);
        assert.equal(b.json().error.code, 'NOT_FOUND', url);
      }
    });
  });
});
