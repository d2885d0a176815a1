import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createStore } from './create-store.js';
import { MIGRATIONS, migrateSqlite } from './migrations.js';
import { createSqliteStore } from './sqlite-store.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('SQLite (:memory:)', () => createSqliteStore(':memory:'));

// A file database exercises WAL and the on-disk path; each test gets its own file.
let fileDir: string | undefined;
let fileCount = 0;
runStoreContract(
  'SQLite (file)',
  async () => {
    fileDir ??= await mkdtemp(join(tmpdir(), 'rc-sqlite-contract-'));
    fileCount += 1;
    return createSqliteStore(join(fileDir, `store-${fileCount}.db`));
  },
  async () => {
    if (fileDir) await rm(fileDir, { recursive: true, force: true });
  },
);

describe('SQLite store on disk', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rc-sqlite-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its data across close and reopen', async () => {
    const path = join(dir, 'reopen.db');
    const first = await createSqliteStore(path);
    await first.createFlag(
      {
        key: 'persisted',
        type: 'string',
        variants: { a: 'A', b: 'B' },
        defaultVariant: 'a',
        environments: { production: { state: 'ENABLED', rollout: { variant: 'b', percentage: 50 } } },
      },
      { name: 'alice' },
    );
    await first.putEvaluator('e', { var: 'x' }, { name: 'alice' });
    const flagBefore = await first.getFlag('persisted');
    await first.close();

    const second = await createSqliteStore(path);
    try {
      assert.equal(await second.currentRevision(), 2);
      assert.deepEqual(await second.getFlag('persisted'), flagBefore);
      assert.deepEqual(await second.getEvaluator('e'), { name: 'e', logic: { var: 'x' }, revision: 2 });
      assert.equal((await second.queryAudit({})).length, 2);
      // Writes continue from the persisted revision.
      assert.equal((await second.deleteFlag('persisted', { name: 'bob' })).revision, 3);
    } finally {
      await second.close();
    }
  });

  it('lets two connections to one file see each other and serialize their writes', async () => {
    const path = join(dir, 'shared.db');
    const [a, b] = await Promise.all([createSqliteStore(path), createSqliteStore(path)]);
    try {
      const flag = {
        key: 'shared',
        type: 'boolean' as const,
        variants: { on: true, off: false },
        defaultVariant: 'off',
        environments: {},
      };
      const created = await a.createFlag(flag, { name: 'alice' });
      assert.deepEqual(await b.getFlag('shared'), created);
      const updated = await b.replaceFlag('shared', { ...flag, owner: 'b' }, { name: 'bob' }, { ifRevision: 1 });
      assert.equal(updated.revision, 2);
      assert.equal(await a.currentRevision(), 2);
      await assert.rejects(a.replaceFlag('shared', flag, { name: 'alice' }, { ifRevision: 1 }));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('creates the data directory and database file when no URL is configured', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const store = await createStore(undefined, dataDir);
    try {
      assert.equal(store.kind, 'sqlite');
      await store.ping();
      await store.putEvaluator('e', { var: 'x' }, { name: 'alice' });
    } finally {
      await store.close();
    }
    const reopened = await createStore(`sqlite://${join(dataDir, 'runtime-control.db')}`, '/nonexistent');
    try {
      assert.equal(await reopened.currentRevision(), 1);
    } finally {
      await reopened.close();
    }
  });

  it('upgrades a database written before flag sets (migration 4): its tokens keep working with no flag set', async () => {
    const path = join(dir, 'v3.db');
    const old = new Database(path);
    migrateSqlite(
      old,
      MIGRATIONS.filter((m) => m.version < 4),
    );
    old
      .prepare(
        "INSERT INTO tokens (id, name, kind, environment, hash, created_at) VALUES ('old', 'web', 'client', 'production', 'h', '2026-01-01T00:00:00.000Z')",
      )
      .run();
    old.close();
    const store = await createSqliteStore(path);
    try {
      const token = await store.getToken('old');
      assert.equal(token?.flagSet, null);
      assert.equal(token?.environment, 'production');
      const limited = await store.createToken(
        { id: 'new', name: 'pay', kind: 'client', environment: 'production', flagSet: 'payments', hash: 'h2' },
        { name: 'alice' },
      );
      assert.equal((await store.getToken('new'))?.flagSet, limited.flagSet);
    } finally {
      await store.close();
    }
  });

  it('opens an in-memory database from sqlite::memory:', async () => {
    const store = await createStore('sqlite::memory:', '/nonexistent');
    try {
      assert.equal(await store.currentRevision(), 0);
    } finally {
      await store.close();
    }
  });
});
