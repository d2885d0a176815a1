// Benchmark 9 (issue 15 item 6): admin write throughput — one node on SQLite, two replicas on PostgreSQL + Redis —
// with one writer and with 20 concurrent writers; anchors: the same-shaped write transaction on the database alone.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  adminHeaders,
  BENCH_REDIS_URL,
  fmt,
  httpRequest,
  log,
  now,
  QUICK,
  sleep,
  startRc,
  stopChild,
  summarize,
  tempDir,
  withScratchDatabase,
} from './lib.mjs';

const DURATION_MS = QUICK ? 1500 : 4000;
const CONCURRENT = 20;

/** Runs `writers` loops of `write(writer, i)` for DURATION_MS; writes/s, latency and non-2xx count. */
async function load(writers, write) {
  const latencies = [];
  let failed = 0;
  const end = now() + DURATION_MS;
  const started = now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; now() < end; i++) {
        const t = now();
        const ok = await write(w, i);
        latencies.push(now() - t);
        if (!ok) failed++;
      }
    }),
  );
  const sec = (now() - started) / 1000;
  return { writes: latencies.length, perSec: latencies.length / sec, failed, latencyMs: summarize(latencies) };
}

/** PATCH toggling flag `bench-w-<writer>` in production on `urls[i % urls.length]`. */
function patcher(urls) {
  return async (w, i) => {
    const r = await httpRequest(
      'PATCH',
      `${urls[(w + i) % urls.length]}/api/admin/flags/bench-w-${w}/environments/production`,
      { headers: adminHeaders, body: { state: i % 2 === 0 ? 'DISABLED' : 'ENABLED' } },
    );
    return r.status === 200;
  };
}

async function createWriterFlags(url) {
  for (let w = 0; w < CONCURRENT; w++) {
    const r = await httpRequest('POST', `${url}/api/admin/flags`, {
      headers: adminHeaders,
      body: {
        key: `bench-w-${w}`,
        type: 'boolean',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        environments: { development: { state: 'ENABLED' }, production: { state: 'ENABLED' } },
      },
    });
    if (r.status !== 201) throw new Error(`creating bench-w-${w}: ${r.status} ${r.body}`);
  }
}

async function measureServer(urls) {
  await createWriterFlags(urls[0]);
  await sleep(300);
  const write = patcher(urls);
  await load(1, write); // warm-up (JIT, pools, statements)
  return { one: await load(1, write), many: await load(CONCURRENT, write) };
}

/** The write transaction's shape on the database alone: bump the revision, update one row, append one record. */
const SHAPE_SQL = {
  setup: [
    'CREATE TABLE meta (id integer PRIMARY KEY, revision integer NOT NULL)',
    'INSERT INTO meta VALUES (1, 0)',
    'CREATE TABLE rows (key text PRIMARY KEY, body text NOT NULL, revision integer NOT NULL)',
    'CREATE TABLE log (revision integer PRIMARY KEY, key text NOT NULL, body text NOT NULL)',
  ],
};
const body = JSON.stringify({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' });

async function sqliteAnchor() {
  const dir = tempDir('rc-bench-sqlite-anchor-');
  const db = new Database(join(dir, 'anchor.db'));
  db.pragma('journal_mode = WAL');
  for (const sql of SHAPE_SQL.setup) db.exec(sql);
  const bump = db.prepare('UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision');
  const upsert = db.prepare(
    'INSERT INTO rows (key, body, revision) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET body = excluded.body, revision = excluded.revision',
  );
  const append = db.prepare('INSERT INTO log (revision, key, body) VALUES (?, ?, ?)');
  const tx = db.transaction((key) => {
    const { revision } = bump.get();
    upsert.run(key, body, revision);
    append.run(revision, key, body);
  });
  // One process, synchronous: concurrency cannot add throughput, so one writer is the anchor for both.
  const write = async (w) => {
    tx.immediate(`k-${w}`);
    return true;
  };
  await load(1, write);
  const one = await load(1, write);
  db.close();
  return { one, many: one };
}

async function postgresAnchor(url) {
  const pool = new pg.Pool({ connectionString: url, max: CONCURRENT });
  // The scratch database is dropped WITH (FORCE) afterwards: a pooled connection the drop ends reports 57P01 on the
  // pool, which without a listener would end the whole benchmark run (it did, once in a full run).
  pool.on('error', () => {});
  try {
    return await postgresAnchorOn(pool);
  } finally {
    await pool.end();
  }
}

async function postgresAnchorOn(pool) {
  for (const sql of SHAPE_SQL.setup) await pool.query(sql);
  const write = async (w) => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query('UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision');
      const revision = rows[0].revision;
      await c.query(
        'INSERT INTO rows (key, body, revision) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET body = excluded.body, revision = excluded.revision',
        [`k-${w}`, body, revision],
      );
      await c.query('INSERT INTO log (revision, key, body) VALUES ($1, $2, $3)', [revision, `k-${w}`, body]);
      await c.query('COMMIT');
      return true;
    } finally {
      c.release();
    }
  };
  await load(1, write);
  return { one: await load(1, write), many: await load(CONCURRENT, write) };
}

export async function run() {
  log('write-throughput: one node on SQLite');
  const single = await startRc({ name: 'rctl up (writes, SQLite)' });
  let sqlite;
  try {
    sqlite = await measureServer([single.url]);
  } finally {
    await stopChild(single.child);
  }
  const sqliteDb = await sqliteAnchor();

  let postgres;
  let postgresDb;
  await withScratchDatabase(async (url) => {
    log('write-throughput: two replicas on PostgreSQL + Redis');
    const env = { RC_DATABASE_URL: url, RC_REDIS_URL: BENCH_REDIS_URL };
    const a = await startRc({ name: 'replica A (writes)', env: { ...env, RC_REPLICA_ID: 'writes-a' } });
    const b = await startRc({ name: 'replica B (writes)', seed: false, env: { ...env, RC_REPLICA_ID: 'writes-b' } });
    try {
      postgres = await measureServer([a.url, b.url]);
    } finally {
      await Promise.all([stopChild(a.child), stopChild(b.child)]);
    }
  });
  await withScratchDatabase(async (url) => {
    postgresDb = await postgresAnchor(url);
  });
  const row = (label, r) => [label, fmt(r.perSec), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), String(r.failed)];
  const share = (ours, anchor) => `${fmt((ours.perSec / anchor.perSec) * 100, 0)} %`;
  log(
    `write-throughput: SQLite ${fmt(sqlite.one.perSec)}/${fmt(sqlite.many.perSec)} writes/s, PostgreSQL ${fmt(postgres.one.perSec)}/${fmt(postgres.many.perSec)} writes/s`,
  );
  return {
    key: 'writeThroughput',
    title: '9. Admin write throughput — SQLite one node, PostgreSQL two replicas',
    method:
      `From the benchmark process, keep-alive HTTP: \`PATCH /api/admin/flags/bench-w-<n>/environments/production\` ` +
      `toggling state, one writer, then ${CONCURRENT} concurrent writers (each on its own flag), ${DURATION_MS / 1000} s ` +
      'each after a warm-up. SQLite: one `rctl up`. PostgreSQL: two `rctl up` replicas on one fresh database and ' +
      'Redis, writers alternating between them. Every write is validated, committed with its audit record, applied ' +
      'and announced before it is answered. Anchors in the same run: the same-shaped transaction on the database ' +
      'alone (bump the revision, upsert one row, append one log record): better-sqlite3 in WAL mode in one process ' +
      '(synchronous, so one writer), and node-postgres with a pool of 20 against a fresh database. Failures count ' +
      'non-2xx answers (none are expected).',
    tables: [
      {
        headers: ['what', 'writes/s', 'p50 ms', 'p99 ms', 'failed'],
        rows: [
          row('**ours, SQLite, 1 writer**', sqlite.one),
          row(`**ours, SQLite, ${CONCURRENT} writers**`, sqlite.many),
          row('anchor: the transaction on better-sqlite3 alone', sqliteDb.one),
          row('**ours, PostgreSQL 2 replicas, 1 writer**', postgres.one),
          row(`**ours, PostgreSQL 2 replicas, ${CONCURRENT} writers**`, postgres.many),
          row('anchor: the transaction on PostgreSQL alone, 1 client', postgresDb.one),
          row(`anchor: the transaction on PostgreSQL alone, ${CONCURRENT} clients`, postgresDb.many),
        ],
      },
    ],
    notes: [
      `SQLite: ours is ${share(sqlite.many, sqliteDb.one)} of the database-alone rate with ${CONCURRENT} writers; PostgreSQL: ${share(postgres.many, postgresDb.many)}.`,
      'Every write takes the one global revision row (writes are serialized in commit order), so concurrency adds throughput only while a write waits on the network or the database, not on that row.',
      'PostgreSQL stopped and restarted under 20 concurrent writers on two replicas is a test, not a figure: `packages/server/src/scale/postgres-restart.e2e.test.ts` (writes answer 503 during the outage, replicas recover on their own, every committed revision is kept, clients converge).',
    ],
    summary: [
      [
        `Admin writes, ${CONCURRENT} writers`,
        `SQLite ${fmt(sqlite.many.perSec)}/s (p99 ${fmt(sqlite.many.latencyMs.p99)} ms); PostgreSQL 2 replicas ${fmt(postgres.many.perSec)}/s (p99 ${fmt(postgres.many.latencyMs.p99)} ms); ${sqlite.many.failed + postgres.many.failed} failed`,
        `database alone: SQLite ${fmt(sqliteDb.one.perSec)}/s, PostgreSQL ${fmt(postgresDb.many.perSec)}/s`,
        'none set (measured)',
        '–',
      ],
    ],
    raw: { sqlite, sqliteDb, postgres, postgresDb },
  };
}
