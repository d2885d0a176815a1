import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FlagdCore } from '@openfeature/flagd-core';
import { createTestDatabase, requireTestDatabaseUrl, serviceOrFail, type TestDatabase } from '@runtime-control/testkit';
import { createPostgresStore } from '../store/postgres-store.js';
import { createSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { booleanFlag, createTestApp, type TestApp } from '../testing/test-app.js';

/**
 * Issue 9's "one accepted write freezes every replica" and "input that gets a 500", against both stores: each write
 * that used to be accepted and then broke every configuration is refused with its JSON path and changes nothing, and
 * every later write still reaches snapshots and OFREP.
 */
const adminUrl = requireTestDatabaseUrl();

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(
    `accepted means servable (${kind})`,
    kind === 'postgres' ? serviceOrFail('PostgreSQL', adminUrl) : {},
    () => {
      let t: TestApp;
      let db: TestDatabase | undefined;
      let prod: Record<string, string>;
      let dev: Record<string, string>;

      before(async () => {
        let store: Store;
        if (kind === 'postgres') {
          db = await createTestDatabase(adminUrl!);
          store = await createPostgresStore(db.url);
        } else {
          store = await createSqliteStore(':memory:');
        }
        t = await createTestApp({}, store);
        prod = await t.clientHeaders('production');
        dev = await t.clientHeaders('development');
        await req('PUT', '/api/admin/evaluators/beta', { in: [{ var: 'targetingKey' }, ['u-beta']] }, 200);
        await req(
          'POST',
          '/api/admin/flags',
          booleanFlag('uses-beta', {
            environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'beta' }, 'on', null] } } },
          }),
          201,
        );
        await req('POST', '/api/admin/flags', booleanFlag('plain'), 201);
        // An evaluator used in a result position: what it returns must be a variant of every flag that uses it so.
        await req('PUT', '/api/admin/evaluators/pick', { if: [{ var: 'fast' }, 'on', 'off'] }, 200);
        await req(
          'POST',
          '/api/admin/flags',
          booleanFlag('uses-pick', { environments: { production: { state: 'ENABLED', targeting: { $ref: 'pick' } } } }),
          201,
        );
      });
      after(async () => {
        await t?.close();
        await db?.drop();
      });

      async function req(method: string, url: string, payload: unknown, status?: number, headers = t.admin) {
        const res = await t.app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(payload === undefined
            ? {}
            : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
        });
        if (status !== undefined) assert.equal(res.statusCode, status, `${method} ${url}: ${res.body.slice(0, 500)}`);
        return res;
      }

      /** What must not change when a write is refused. */
      async function snapshotOfState() {
        const [revision, flags, evaluators, tokens, audit] = await Promise.all([
          t.store.currentRevision(),
          t.store.listFlags(),
          t.store.listEvaluators(),
          t.store.listTokens(),
          t.store.queryAudit({ limit: 1000 }),
        ]);
        return JSON.stringify({ revision, flags, evaluators, tokens, audit: audit.length });
      }

      async function refused(method: string, url: string, payload: unknown, code: string, path?: string) {
        const before = await snapshotOfState();
        const res = await req(method, url, payload);
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${method} ${url} → ${res.statusCode} ${res.body}`);
        const body = res.json() as { error: { code: string; path?: string } };
        assert.equal(body.error.code, code, res.body);
        if (path !== undefined) assert.equal(body.error.path, path, res.body);
        assert.equal(await snapshotOfState(), before, 'a refused write changed nothing');
      }

      /** Every later write still reaches every environment's snapshot and OFREP. */
      async function stillServing() {
        const state = Math.random() < 0.5 ? 'ENABLED' : 'DISABLED';
        const current = (await req('GET', '/api/admin/flags/plain', undefined, 200)).json() as {
          environments: { production: { state: string } };
        };
        const next = current.environments.production.state === 'ENABLED' ? 'DISABLED' : 'ENABLED';
        void state;
        await req('PATCH', '/api/admin/flags/plain/environments/production', { state: next }, 200);
        const snap = await req('GET', '/api/client/snapshot', undefined, 200, prod);
        const config = snap.json() as { flags: Record<string, { state: string }> };
        assert.equal(config.flags.plain?.state, next, 'the snapshot follows the write');
        const engine = new FlagdCore(undefined, { debug() {}, info() {}, warn() {}, error() {} });
        engine.setConfigurations(snap.body);
        const ofrep = await req(
          'POST',
          '/ofrep/v1/evaluate/flags/uses-beta',
          { context: { targetingKey: 'u-beta' } },
          200,
          prod,
        );
        assert.equal(ofrep.json().value, true);
        assert.equal(t.rt.state.brokenRecords().length, 0, 'nothing was isolated');
      }

      it('refuses defaultVariant / rollout / override names that are only inherited (constructor, toString…)', async () => {
        await refused(
          'POST',
          '/api/admin/flags',
          booleanFlag('ctor', { defaultVariant: 'constructor' }),
          'VALIDATION_FAILED',
          '/defaultVariant',
        );
        await refused(
          'PATCH',
          '/api/admin/flags/plain/environments/production',
          { rollout: { variant: 'toString', percentage: 10 } },
          'VALIDATION_FAILED',
          '/rollout/variant',
        );
        await refused(
          'PUT',
          '/api/admin/flags/plain/environments/production/overrides/u-1',
          { variant: 'valueOf' },
          'VALIDATION_FAILED',
        );
        await stillServing();
      });

      it("refuses an evaluator update with $' or $` that flags use, naming nothing else broken", async () => {
        await refused(
          'PUT',
          '/api/admin/evaluators/beta',
          { in: [{ var: 'targetingKey' }, ["x$'y"]] },
          'VALIDATION_FAILED',
          '',
        );
        await refused(
          'PUT',
          '/api/admin/evaluators/beta',
          { in: [{ var: 'targetingKey' }, ['x$`y']] },
          'VALIDATION_FAILED',
        );
        await stillServing();
      });

      it('refuses an evaluator update that would make a flag using it return a variant it does not have', async () => {
        await refused('PUT', '/api/admin/evaluators/pick', { if: [{ var: 'x' }, 'maybe', null] }, 'INVALID_TARGETING');
        const res = await req('PUT', '/api/admin/evaluators/pick', { if: [{ var: 'x' }, 'maybe', null] });
        assert.match(res.body, /uses-pick/, 'names the flag that would break');
        assert.match(res.body, /\/flags\/uses-pick\/environments\/production\/targeting/);
        await stillServing();
      });

      it('refuses evaluators that are not JsonLogic flagd knows, or too large', async () => {
        await refused('PUT', '/api/admin/evaluators/bogus', { bogus_op: [1] }, 'VALIDATION_FAILED', '/bogus_op');
        const blob = { in: [{ var: 'targetingKey' }, Array.from({ length: 60_000 }, (_, i) => `u${i}`)] };
        await refused('PUT', '/api/admin/evaluators/blob', blob, 'VALIDATION_FAILED');
        await stillServing();
      });

      it('refuses targeting that can return a variant the flag does not have, with the JSON path', async () => {
        await refused(
          'PATCH',
          '/api/admin/flags/plain/environments/production',
          { targeting: { if: [{ var: 'beta' }, 'onn', null] } },
          'INVALID_TARGETING',
          '/targeting',
        );
        await refused(
          'POST',
          '/api/admin/flags',
          booleanFlag('computed', { environments: { production: { state: 'ENABLED', targeting: { var: 'v' } } } }),
          'INVALID_TARGETING',
          '/environments/production/targeting/var',
        );
        await stillServing();
      });

      it('refuses deep nesting, NUL, lone surrogates and non-finite numbers in any body, before any store sees it', async () => {
        let deep: unknown = true;
        for (let i = 0; i < 3000; i++) deep = { a: deep };
        await refused(
          'POST',
          '/api/admin/flags',
          { ...booleanFlag('deep'), type: 'object', variants: { v: deep }, defaultVariant: 'v' },
          'INPUT_TOO_DEEP',
        );
        await refused(
          'POST',
          '/api/admin/flags',
          booleanFlag('nul', { description: 'a\u0000b' }),
          'INVALID_STRING',
          '/description',
        );
        await refused(
          'POST',
          '/api/admin/flags',
          `{"key":"sur","description":"\\ud800","type":"boolean"}`,
          'INVALID_STRING',
          '/description',
        );
        await refused(
          'POST',
          '/api/admin/flags',
          '{"key":"big","type":"number","variants":{"a":1e400},"defaultVariant":"a"}',
          'NUMBER_OUT_OF_RANGE',
          '/variants/a',
        );
        let deepContext: unknown = 'x';
        for (let i = 0; i < 2000; i++) deepContext = [deepContext];
        const ofrep = await req(
          'POST',
          '/ofrep/v1/evaluate/flags/plain',
          { context: { targetingKey: 'u', list: deepContext } },
          undefined,
          prod,
        );
        assert.equal(ofrep.statusCode, 400);
        await stillServing();
      });

      it('refuses repeated or malformed query parameters, NUL in paths and out-of-range numbers with 400', async () => {
        for (const url of [
          '/api/admin/audit?flag=a&flag=b',
          '/api/admin/audit?before=1e20',
          '/api/admin/audit?limit=-1',
          '/api/admin/flags/a%00b',
          '/api/admin/audit?flag=a%00',
        ]) {
          const res = await req('GET', url, undefined);
          assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
        }
        const sse = await req('GET', '/ofrep/v1/sse?key=a&key=b', undefined, undefined, {});
        assert.ok(sse.statusCode === 400 || sse.statusCode === 401, `${sse.statusCode}`);
        await stillServing();
      });

      it('keeps a flag whose schema has an $id editable, and answers a catastrophic pattern at once', async () => {
        const knob = {
          key: 'knob',
          type: 'number',
          schema: { $id: 'https://example.com/knob', type: 'integer', minimum: 0 },
          variants: { a: 1, b: 2 },
          defaultVariant: 'a',
          environments: { production: { state: 'ENABLED' } },
        };
        await req('POST', '/api/admin/flags', knob, 201);
        for (const state of ['DISABLED', 'ENABLED', 'DISABLED']) {
          await req('PATCH', '/api/admin/flags/knob/environments/production', { state }, 200);
        }
        await req('PUT', '/api/admin/flags/knob', { ...knob, variants: { a: 3, b: 4 } }, 200);
        const started = Date.now();
        await refused(
          'POST',
          '/api/admin/flags',
          {
            key: 'redos',
            type: 'object',
            schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } },
            variants: { v: { s: `${'a'.repeat(40)}!` } },
            defaultVariant: 'v',
          },
          'VALIDATION_FAILED',
          '/variants/v/s',
        );
        // A backtracking engine takes minutes on this input; the linear-time one answers at once.
        assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
        await stillServing();
      });

      it('never logs a sensitive value a database error could quote', async () => {
        const sentinel = 'SENTINEL-SENSITIVE-9f3a';
        await req(
          'POST',
          '/api/admin/flags',
          booleanFlag('s', {
            type: 'string',
            sensitive: true,
            variants: { a: `${sentinel}\u0000` },
            defaultVariant: 'a',
          }),
        );
        assert.ok(!t.logs.join('').includes(sentinel));
      });

      it('keeps a development token from reading production-only values', async () => {
        const secret = 'PROD-ONLY-SECRET-7c1d';
        await req(
          'POST',
          '/api/admin/flags',
          {
            key: 'prod-secret',
            type: 'string',
            sensitive: true,
            variants: { safe: 'default-value', secret },
            defaultVariant: 'safe',
            environments: { production: { state: 'ENABLED', overrides: { 'u-1': 'secret' } } },
          },
          201,
        );
        const devSnap = await req('GET', '/api/client/snapshot', undefined, 200, dev);
        assert.ok(!devSnap.body.includes(secret), 'development snapshot');
        assert.ok(!devSnap.body.includes('prod-secret'), 'not configured for development: absent');
        const devBulk = await req('POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u-1' } }, 200, dev);
        assert.ok(!devBulk.body.includes(secret), 'development OFREP');
        const prodSnap = await req('GET', '/api/client/snapshot', undefined, 200, prod);
        assert.ok(prodSnap.body.includes(secret), 'production serves it');
        // A production flag's unreachable variant is not shipped either.
        await req(
          'POST',
          '/api/admin/flags',
          {
            key: 'prod-partial',
            type: 'string',
            variants: { a: 'value-a', b: 'UNREACHABLE-B' },
            defaultVariant: 'a',
            environments: { production: { state: 'ENABLED' } },
          },
          201,
        );
        assert.ok(!(await req('GET', '/api/client/snapshot', undefined, 200, prod)).body.includes('UNREACHABLE-B'));
      });
    },
  );
}
