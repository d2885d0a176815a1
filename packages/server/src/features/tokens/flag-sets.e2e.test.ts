import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChangeFrameData } from '@runtime-control/core';
import {
  createTestDatabase,
  eventJson,
  openSse,
  requireTestDatabaseUrl,
  type SseClient,
  serviceOrFail,
} from '@runtime-control/testkit';
import { type RunningServer, startServer } from '../../server.js';
import { booleanFlag, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';

/**
 * Flag sets (issue 16 item 3): a client token limited to one set (flagd `flagSetId`) receives only that set's flags
 * through the snapshot, the client stream (snapshot and change frames) and OFREP; everything else is as if it did not
 * exist. Run against both stores, since the token's set is stored (migration 4).
 */

const ENV = 'production';
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };

type Flags = { flags: Record<string, unknown>; $evaluators?: Record<string, unknown> };

function suite(storeName: 'sqlite' | 'postgres', databaseUrl: () => Promise<{ url?: string; drop(): Promise<void> }>) {
  let server: RunningServer;
  let dataDir: string;
  let cleanupDb: () => Promise<void> = async () => {};
  const streams: SseClient[] = [];
  let payments: string;
  let everything: string;
  let empty: string;

  const api = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: token ? { authorization: `Bearer ${token}`, 'content-type': 'application/json' } : admin,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as any };
  };
  const token = async (body: Record<string, unknown>) => {
    const r = await api('POST', '/api/admin/tokens', { kind: 'client', environment: ENV, ...body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { token: string; flagSet: string | null; id: string };
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rc-flag-sets-'));
    const db = await databaseUrl();
    cleanupDb = () => db.drop();
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        RC_LOG_LEVEL: 'silent',
        ...(db.url ? { RC_DATABASE_URL: db.url } : {}),
      },
      print: () => {},
    });
    assert.equal(server.runtime.store.kind, storeName);
    assert.equal(
      (await api('PUT', '/api/admin/evaluators/vip', { in: [{ var: 'targetingKey' }, ['secret-vip-1']] })).status,
      200,
    );
    const flags = [
      booleanFlag('checkout', { metadata: { flagSetId: 'payments', owner: 'team-pay' }, defaultVariant: null }),
      booleanFlag('refunds', { metadata: { flagSetId: 'payments' } }),
      booleanFlag('search', {
        metadata: { flagSetId: 'discovery' },
        environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'vip' }, 'on', null] } } },
      }),
      booleanFlag('global'),
    ];
    for (const f of flags) assert.equal((await api('POST', '/api/admin/flags', f)).status, 201);
    payments = (await token({ flagSet: 'payments', name: 'pay' })).token;
    everything = (await token({ name: 'all' })).token;
    empty = (await token({ flagSet: 'nothing-yet', name: 'empty' })).token;
  });
  after(async () => {
    for (const s of streams) s.close();
    await server?.close();
    await cleanupDb();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('POST /api/admin/tokens stores flagSet, lists it, and refuses a bad one with a code naming the field', async () => {
    const listed = (await api('GET', '/api/admin/tokens')).body.tokens as { name: string; flagSet: string | null }[];
    assert.deepEqual(
      listed.filter((t) => ['pay', 'all'].includes(t.name)).map((t) => [t.name, t.flagSet]),
      [
        ['pay', 'payments'],
        ['all', null],
      ],
    );
    const before = (await api('GET', '/api/admin/tokens')).body.tokens.length;
    for (const [body, code] of [
      [{ kind: 'client', environment: ENV, flagSet: 'has space' }, 'INVALID_FLAG_SET'],
      [{ kind: 'client', environment: ENV, flagSet: 7 }, 'INVALID_FLAG_SET'],
      [{ kind: 'client', environment: ENV, flagSet: '' }, 'INVALID_FLAG_SET'],
      [{ kind: 'admin', flagSet: 'payments' }, 'INVALID_VALUE'],
    ] as const) {
      const r = await api('POST', '/api/admin/tokens', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.details[0].path, '/flagSet');
      assert.equal(r.body.error.details[0].code, code);
    }
    assert.equal((await api('GET', '/api/admin/tokens')).body.tokens.length, before, 'nothing was written');
  });

  it("the snapshot carries only the token's set, and only the evaluators its flags use", async () => {
    const limited = (await api('GET', '/api/client/snapshot', undefined, payments)).body as Flags;
    assert.deepEqual(Object.keys(limited.flags), ['checkout', 'refunds']);
    assert.equal(limited.$evaluators, undefined, "another set's shared rule (and its user list) is not sent");
    const all = (await api('GET', '/api/client/snapshot', undefined, everything)).body as Flags;
    assert.deepEqual(Object.keys(all.flags), ['checkout', 'global', 'refunds', 'search']);
    assert.ok(all.$evaluators?.vip);
    const none = (await api('GET', '/api/client/snapshot', undefined, empty)).body as Flags;
    assert.deepEqual(none.flags, {});
  });

  it('OFREP: bulk has only the set; a flag outside it is FLAG_NOT_FOUND exactly as an unknown flag', async () => {
    const bulk = await api('POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u' } }, payments);
    assert.equal(bulk.status, 200);
    assert.deepEqual(
      bulk.body.flags.map((f: { key: string }) => f.key),
      ['checkout', 'refunds'],
    );
    // A null default variant: the code default (no value), with the flag's metadata as flagd returns it.
    assert.deepEqual(bulk.body.flags[0], {
      key: 'checkout',
      reason: 'DEFAULT',
      metadata: { flagSetId: 'payments', owner: 'team-pay' },
    });
    const outside = await api('POST', '/ofrep/v1/evaluate/flags/search', { context: {} }, payments);
    const unknown = await api('POST', '/ofrep/v1/evaluate/flags/no-such-flag', { context: {} }, payments);
    assert.equal(outside.status, 404);
    assert.deepEqual(
      { ...outside.body, key: 'x', errorDetails: undefined },
      { ...unknown.body, key: 'x', errorDetails: undefined },
    );
    assert.equal(outside.body.errorCode, 'FLAG_NOT_FOUND');
    const inside = await api('POST', '/ofrep/v1/evaluate/flags/refunds', { context: {} }, payments);
    assert.equal(inside.status, 200);
    assert.equal(inside.body.value, false);
    const unrestricted = await api('POST', '/ofrep/v1/evaluate/flags/search', { context: {} }, everything);
    assert.equal(unrestricted.status, 200);
    // Different slices, different ETags: a set token's cached bulk never answers for the whole environment.
    const allBulk = await api('POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u' } }, everything);
    assert.notEqual(allBulk.headers.get('etag'), bulk.headers.get('etag'));
  });

  it("the client stream: the set's snapshot, then change frames only for its own flags", async () => {
    const s = await openSse(`${server.url}/api/client/stream`, { headers: { authorization: `Bearer ${payments}` } });
    streams.push(s);
    const snapshot = await s.waitFor((e) => e.event === 'snapshot', 3000);
    assert.deepEqual(Object.keys(eventJson<Flags>(snapshot).flags), ['checkout', 'refunds']);
    const from = s.events.length;
    // Changes to other sets' flags (and to a flag's targeting that uses a shared rule) reach nobody in this set.
    const secret = await api('PUT', '/api/admin/evaluators/vip', { in: [{ var: 'targetingKey' }, ['secret-vip-2']] });
    assert.equal(secret.status, 200);
    assert.equal(
      (await api('PATCH', `/api/admin/flags/global/environments/${ENV}`, { state: 'DISABLED' })).status,
      200,
    );
    const own = await api('PATCH', `/api/admin/flags/refunds/environments/${ENV}`, { state: 'DISABLED' });
    assert.equal(own.status, 200);
    const change = await s.waitFor((e) => e.event === 'change', 3000, { fromIndex: from });
    const data = eventJson<ChangeFrameData<Flags>>(change);
    assert.deepEqual(data.changed, ['refunds']);
    assert.deepEqual(Object.keys(data.config.flags), ['checkout', 'refunds']);
    const text = s.events
      .slice(from)
      .map((e) => e.data)
      .join('\n');
    assert.ok(!text.includes('secret-vip'), 'a shared rule of another set never reaches this stream');
    assert.ok(!text.includes('"search"') && !text.includes('"global"'), "no other set's flag is named");
    assert.equal(
      s.events.slice(from).filter((e) => e.event === 'change').length,
      1,
      'the other changes sent this set nothing',
    );
  });

  it('a flag moved into the set appears for its clients (and a set with no flags yet gets it as a change)', async () => {
    const s = await openSse(`${server.url}/api/client/stream`, { headers: { authorization: `Bearer ${empty}` } });
    streams.push(s);
    const snapshot = await s.waitFor((e) => e.event === 'snapshot', 3000);
    assert.deepEqual(eventJson<Flags>(snapshot).flags, {});
    const moved = await api(
      'PUT',
      '/api/admin/flags/global',
      booleanFlag('global', { metadata: { flagSetId: 'nothing-yet' } }),
    );
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const change = await s.waitFor((e) => e.event === 'change', 3000);
    const data = eventJson<ChangeFrameData<Flags>>(change);
    assert.deepEqual(data.changed, ['global']);
    assert.deepEqual(Object.keys(data.config.flags), ['global']);
    const ofrep = await api('POST', '/ofrep/v1/evaluate/flags/global', { context: {} }, empty);
    assert.equal(ofrep.status, 200);
  });

  it("a set stream resumed with Last-Event-ID gets only its set's keys changed since, or ready", async () => {
    const first = await openSse(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${payments}` },
    });
    streams.push(first);
    const snap = await first.waitFor((e) => e.event === 'snapshot' || e.event === 'change', 3000);
    const seen = Number(snap.id);
    first.close();
    await api('PATCH', `/api/admin/flags/search/environments/${ENV}`, { state: 'ENABLED' });
    const own = await api('PATCH', `/api/admin/flags/checkout/environments/${ENV}`, { overrides: { 'u-9': 'on' } });
    assert.equal(own.status, 200);
    const revision = Number(JSON.parse(own.headers.get('etag')!));
    const resumed = await openSse(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${payments}` },
      lastEventId: seen,
    });
    streams.push(resumed);
    const change = await resumed.waitFor(() => true, 3000);
    assert.equal(change.event, 'change');
    assert.deepEqual(eventJson<ChangeFrameData<Flags>>(change).changed, ['checkout']);
    const upToDate = await openSse(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${payments}` },
      lastEventId: revision,
    });
    streams.push(upToDate);
    assert.equal((await upToDate.waitFor(() => true, 3000)).event, 'ready');
  });

  it("the OFREP stream of a set token is told of its set's changes only", async () => {
    const bulk = await api('POST', '/ofrep/v1/evaluate/flags', { context: {} }, payments);
    const s = await openSse(bulk.body.eventStreams[0].url);
    streams.push(s);
    assert.equal(s.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const from = s.events.length;
    await api('PATCH', `/api/admin/flags/search/environments/${ENV}`, { state: 'DISABLED' });
    await api('PATCH', `/api/admin/flags/checkout/environments/${ENV}`, { state: 'DISABLED' });
    const msg = await s.waitFor((e) => e.event === 'message', 3000, { fromIndex: from });
    const after = await api('POST', '/ofrep/v1/evaluate/flags', { context: {} }, payments);
    assert.equal(JSON.parse(msg.data).etag, after.headers.get('etag')?.slice(1).split('.')[0]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(s.events.slice(from).filter((e) => e.event === 'message').length, 1);
  });

  it('?selector=flagSetId=<set> narrows the snapshot server-side, never widens it, and a bad one is refused', async () => {
    const snapshot = async (tokenValue: string, selector: string) =>
      api('GET', `/api/client/snapshot?selector=${encodeURIComponent(selector)}`, undefined, tokenValue);
    const narrowed = (await snapshot(everything, 'flagSetId=payments')).body as Flags;
    assert.deepEqual(Object.keys(narrowed.flags), ['checkout', 'refunds']);
    assert.equal(narrowed.$evaluators, undefined, "the other sets' shared rules are not sent either");
    const spaced = (await snapshot(everything, ' flagSetId = discovery ')).body as Flags;
    assert.deepEqual(Object.keys(spaced.flags), ['search']);
    assert.ok(spaced.$evaluators?.vip);
    const same = await snapshot(payments, 'flagSetId=payments');
    assert.deepEqual(Object.keys((same.body as Flags).flags), ['checkout', 'refunds']);
    // Another set than the token's: nothing, with an ETag of its own (never one a wider document answers to).
    const other = await snapshot(payments, 'flagSetId=discovery');
    assert.equal(other.status, 200);
    assert.deepEqual((other.body as Flags).flags, {});
    assert.notEqual(other.headers.get('etag'), same.headers.get('etag'));
    // Inherited names are set names like any other: no flag is in them.
    for (const inherited of ['constructor', 'toString', 'hasOwnProperty']) {
      const r = await snapshot(everything, `flagSetId=${inherited}`);
      assert.equal(r.status, 200, `${inherited}: ${JSON.stringify(r.body)}`);
      assert.deepEqual((r.body as Flags).flags, {});
    }
    for (const bad of [
      'flagSetId=has space',
      'source=payments',
      'flagSetId=',
      'flagSetId=a,flagSetId=b',
      'flagSetId=a\u0000',
      'flagSetId=__proto__',
      `flagSetId=${'x'.repeat(65)}`,
    ]) {
      const r = await snapshot(everything, bad);
      assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.path, 'selector', JSON.stringify(r.body));
    }
    // Beyond Node's header limit the HTTP layer refuses the request before any route runs.
    assert.equal((await snapshot(everything, `flagSetId=${'x'.repeat(100_000)}`)).status, 431);
    const repeated = await api(
      'GET',
      '/api/client/snapshot?selector=flagSetId%3Dpayments&selector=flagSetId%3Ddiscovery',
      undefined,
      everything,
    );
    assert.equal(repeated.status, 400, 'one selector only');
  });

  it('a stream with ?selector= gets its set only: snapshot and deltas, nothing for other sets', async () => {
    const s = await openSse(
      `${server.url}/api/client/stream?format=delta&selector=${encodeURIComponent('flagSetId=payments')}`,
      { headers: { authorization: `Bearer ${everything}` } },
    );
    streams.push(s);
    const snapshot = await s.waitFor((e) => e.event === 'snapshot', 3000);
    assert.deepEqual(Object.keys(eventJson<Flags>(snapshot).flags), ['checkout', 'refunds']);
    const from = s.events.length;
    assert.equal(
      (await api('PATCH', `/api/admin/flags/search/environments/${ENV}`, { state: 'DISABLED' })).status,
      200,
    );
    // (The OFREP stream test above disabled it.)
    const own = await api('PATCH', `/api/admin/flags/checkout/environments/${ENV}`, { state: 'ENABLED' });
    assert.equal(own.status, 200);
    const delta = await s.waitFor((e) => e.event === 'delta', 3000, { fromIndex: from });
    assert.deepEqual(Object.keys(eventJson<{ flags: Record<string, unknown> }>(delta).flags), ['checkout']);
    assert.equal(s.events.slice(from).filter((e) => e.event === 'delta').length, 1, 'the other set sent nothing');
    const bad = await fetch(`${server.url}/api/client/stream?selector=nope`, {
      headers: { authorization: `Bearer ${everything}` },
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path, 'selector');
  });
}

describe('flag sets end to end (SQLite)', () => {
  suite('sqlite', async () => ({ drop: async () => {} }));
});

describe('flag sets end to end (PostgreSQL)', serviceOrFail('RC_TEST_DATABASE_URL', requireTestDatabaseUrl()), () => {
  suite('postgres', async () => createTestDatabase(requireTestDatabaseUrl()!, { prefix: 'rc_flag_sets' }));
});
