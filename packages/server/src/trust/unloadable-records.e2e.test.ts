import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FlagdCore } from '@openfeature/flagd-core';
import {
  createTestDatabase,
  eventually,
  requireTestDatabaseUrl,
  serviceOrFail,
  type TestDatabase,
} from '@runtime-control/testkit';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type RunningServer, startServer } from '../server.js';
import { SQLITE_FILE_NAME } from '../store/create-store.js';
import { createSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { booleanFlag, createTestApp, TEST_ADMIN_TOKEN } from '../testing/test-app.js';

/**
 * Defence in depth: rows no write path would accept (an older version's, or a hand edit) are written straight into
 * the database. A replica isolates each one — it answers PARSE_ERROR with the code default, /health/ready stays 200
 * and names it, a metric counts it, the log says why — and keeps serving and updating everything else; a restart
 * starts and prints them; a fixing write brings the flag back.
 */
const adminUrl = requireTestDatabaseUrl();

/** Writes a row the way a store would (revision bump + audit record), bypassing every check. */
interface RawWriter {
  flag(key: string, definition: string): Promise<number>;
  evaluator(name: string, logic: string): Promise<number>;
  close(): Promise<void>;
}

function sqliteWriter(file: string): RawWriter {
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  const bump = (type: string, key: string) => {
    const { revision } = db
      .prepare('UPDATE rc_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision')
      .get() as {
      revision: number;
    };
    db.prepare(
      'INSERT INTO audit (revision, at, actor, entity_type, entity_key, action, before, after) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)',
    ).run(revision, new Date().toISOString(), 'hand-edit', type, key, 'create');
    return revision;
  };
  return {
    async flag(key, definition) {
      return db.transaction(() => {
        const revision = bump('flag', key);
        const now = new Date().toISOString();
        db.prepare('INSERT INTO flags (key, definition, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
          key,
          definition,
          revision,
          now,
          now,
        );
        return revision;
      })();
    },
    async evaluator(name, logic) {
      return db.transaction(() => {
        const revision = bump('evaluator', name);
        db.prepare(
          'INSERT INTO evaluators (name, logic, revision) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET logic = excluded.logic, revision = excluded.revision',
        ).run(name, logic, revision);
        return revision;
      })();
    },
    async close() {
      db.close();
    },
  };
}

async function postgresWriter(url: string): Promise<RawWriter> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  const write = async (type: string, key: string, row: (revision: number) => Promise<unknown>) => {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ revision: string }>(
        'UPDATE rc_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision',
      );
      const revision = Number(rows[0]!.revision);
      await client.query(
        'INSERT INTO audit (revision, at, actor, entity_type, entity_key, action, before, after) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)',
        [revision, new Date().toISOString(), 'hand-edit', type, key, 'create'],
      );
      await row(revision);
      await client.query('COMMIT');
      return revision;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  };
  return {
    flag: (key, definition) =>
      write('flag', key, (revision) =>
        client.query(
          'INSERT INTO flags (key, definition, revision, created_at, updated_at) VALUES ($1, $2::jsonb, $3, now(), now())',
          [key, definition, revision],
        ),
      ),
    evaluator: (name, logic) =>
      write('evaluator', name, (revision) =>
        client.query(
          `INSERT INTO evaluators (name, logic, revision) VALUES ($1, $2::jsonb, $3)
           ON CONFLICT (name) DO UPDATE SET logic = excluded.logic, revision = excluded.revision`,
          [name, logic, revision],
        ),
      ),
    close: () => client.end(),
  };
}

const bool = (key: string, extra: Record<string, unknown> = {}) => JSON.stringify(booleanFlag(key, extra));

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(
    `a replica isolates records it cannot load (${kind})`,
    kind === 'postgres' ? serviceOrFail('PostgreSQL', adminUrl) : {},
    () => {
      let dataDir: string;
      let db: TestDatabase | undefined;
      let env: Record<string, string>;
      let server: RunningServer;
      let writer: RawWriter;
      let clientToken: string;
      const printed: string[] = [];
      const broken = new Map<string, number>();

      const start = () => startServer({ port: 0, host: '127.0.0.1', dataDir, env, print: (l) => printed.push(l) });
      const api = async (method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN) => {
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
      };

      before(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'rc-unloadable-'));
        env = { RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN, RC_LOG_LEVEL: 'silent', RC_RECONCILE_INTERVAL_MS: '200' };
        if (kind === 'postgres') {
          db = await createTestDatabase(adminUrl!);
          env.RC_DATABASE_URL = db.url;
        }
        server = await start();
        assert.equal((await api('POST', '/api/admin/flags', booleanFlag('good'))).status, 201);
        clientToken = (await api('POST', '/api/admin/tokens', { kind: 'client', environment: 'production' })).json
          .token;
        writer = kind === 'postgres' ? await postgresWriter(db!.url) : sqliteWriter(join(dataDir, SQLITE_FILE_NAME));

        // What older versions (or hands) could leave behind.
        broken.set('ctor', await writer.flag('ctor', bool('ctor', { defaultVariant: 'constructor' })));
        broken.set(
          'bad-rule',
          await writer.flag(
            'bad-rule',
            bool('bad-rule', { environments: { production: { state: 'ENABLED', targeting: { bogus_op: [1] } } } }),
          ),
        );
        broken.set(
          'wrong-variant',
          await writer.flag(
            'wrong-variant',
            bool('wrong-variant', {
              environments: { production: { state: 'ENABLED', targeting: { if: [true, 'onn', null] } } },
            }),
          ),
        );
        let deep: unknown = 1;
        for (let i = 0; i < 1500; i++) deep = { a: deep };
        broken.set(
          'deep',
          await writer.flag(
            'deep',
            JSON.stringify({ ...booleanFlag('deep'), type: 'object', variants: { v: deep }, defaultVariant: 'v' }),
          ),
        );
        broken.set('not-an-object', await writer.flag('not-an-object', kind === 'sqlite' ? '{not json' : '"a string"'));
        await writer.evaluator('dollar', JSON.stringify({ in: [{ var: 'targetingKey' }, ["x$'y"]] }));
        broken.set(
          'uses-dollar',
          await writer.flag(
            'uses-dollar',
            bool('uses-dollar', {
              environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'dollar' }, 'on', null] } } },
            }),
          ),
        );
      });
      after(async () => {
        await writer?.close();
        await server?.close();
        await db?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      });

      it('keeps serving and updating every other flag, and applies the latest revision', async () => {
        const patched = await api('PATCH', '/api/admin/flags/good/environments/production', { state: 'DISABLED' });
        assert.equal(patched.status, 200, patched.text);
        await eventually(
          async () => {
            const snap = await api('GET', '/api/client/snapshot', undefined, clientToken);
            assert.equal(snap.status, 200);
            assert.equal(snap.json.flags.good.state, 'DISABLED');
            return true;
          },
          3000,
          'the snapshot follows the write',
        );
        assert.equal(server.runtime.state.revision, await server.runtime.store.currentRevision());
      });

      it('answers each isolated flag with PARSE_ERROR and the code default, in OFREP and in the snapshot', async () => {
        const snap = await api('GET', '/api/client/snapshot', undefined, clientToken);
        const engine = new FlagdCore(undefined, { debug() {}, info() {}, warn() {}, error() {} });
        engine.setConfigurations(snap.text);
        for (const key of broken.keys()) {
          if (key === 'not-an-object') continue; // no environments can be read from it: absent everywhere
          const ofrep = await api(
            'POST',
            `/ofrep/v1/evaluate/flags/${key}`,
            { context: { targetingKey: 'u' } },
            clientToken,
          );
          assert.equal(ofrep.json.errorCode, 'PARSE_ERROR', `${key}: ${ofrep.text}`);
          assert.equal(ofrep.json.value, undefined, 'the caller uses its code default');
          assert.equal(engine.resolve('boolean', key, true, {}).errorCode, 'PARSE_ERROR', key);
        }
        assert.equal(engine.resolve('boolean', 'good', true, {}).errorCode, undefined);
      });

      it('stays ready, naming each broken record with its revision; counts them in a metric', async () => {
        const ready = await api('GET', '/health/ready');
        assert.equal(ready.status, 200);
        const unloadable = ready.json.unloadable as {
          entityType: string;
          key: string;
          revision: number;
          problem: string;
        }[];
        for (const [key, revision] of broken) {
          const record = unloadable.find((r) => r.entityType === 'flag' && r.key === key);
          assert.ok(record, `${key} named in ${ready.text}`);
          assert.equal(record.revision, revision);
          assert.ok(record.problem.length > 0);
        }
        assert.ok(unloadable.some((r) => r.entityType === 'evaluator' && r.key === 'dollar'));
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(metrics, new RegExp(`rc_unloadable_records\\{entity="flag"\\} ${broken.size}`));
        assert.match(metrics, /rc_unloadable_records\{entity="evaluator"\} 1/);
        const listed = await api('GET', '/api/admin/flags');
        assert.equal(listed.status, 200);
        assert.ok((listed.json.unloadable as unknown[]).length >= broken.size);
      });

      it('starts again with such data present and prints which records are broken', async () => {
        await server.close();
        printed.length = 0;
        server = await start();
        const text = printed.join('\n');
        for (const key of broken.keys()) assert.match(text, new RegExp(`flag "${key}"`), text);
        assert.equal((await api('GET', '/health/ready')).status, 200);
      });

      it('a fixing write brings a flag back', async () => {
        const fixed = await api('PUT', '/api/admin/flags/ctor', booleanFlag('ctor'));
        assert.equal(fixed.status, 200, fixed.text);
        const ofrep = await api('POST', '/ofrep/v1/evaluate/flags/ctor', { context: {} }, clientToken);
        assert.equal(ofrep.json.value, false, ofrep.text);
        const ready = await api('GET', '/health/ready');
        assert.ok(!(ready.json.unloadable as { key: string }[]).some((r) => r.key === 'ctor'));
      });
    },
  );
}

describe('a catch-up that fails part-way leaves the applied revision where it was', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let failReads = false;

  before(async () => {
    const inner = await createSqliteStore(':memory:');
    // The same store, but its reads fail on demand (a database blip in the middle of a catch-up).
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === 'getFlag' && typeof value === 'function') {
          return (...args: unknown[]) => {
            if (failReads) return Promise.reject(new Error('database went away'));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Store;
    t = await createTestApp({}, store);
  });
  after(async () => {
    await t?.close();
  });

  it('does not advance past a change it could not apply, and applies it on the next trigger', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: t.admin,
      payload: booleanFlag('f'),
    });
    assert.equal(created.statusCode, 201);
    const applied = t.rt.state.revision;
    // Another replica's write lands in the database; this replica's read of it fails.
    await t.store.createFlag(booleanFlag('g') as never, { name: 'other-replica' });
    failReads = true;
    await assert.rejects(t.rt.state.catchUp('message'));
    assert.equal(t.rt.state.revision, applied, 'still at the last revision it applied');
    assert.equal(t.rt.state.view('production')?.flagTypes.has('g'), false);
    failReads = false;
    await t.rt.state.catchUp('reconcile');
    assert.equal(t.rt.state.revision, await t.store.currentRevision());
    assert.equal(t.rt.state.view('production')?.flagTypes.has('g'), true);
  });
});
