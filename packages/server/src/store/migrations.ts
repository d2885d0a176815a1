import type { Database } from 'better-sqlite3';
import type { Pool } from 'pg';
import { inTransaction } from './pg-transaction.js';

/**
 * Versioned schema migrations: one ordered list, each step written for both dialects so the two stores never drift.
 * Applied versions are recorded in `schema_migrations`; a step never changes once released — add a new one instead.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sqlite: `
      -- One row holding the global revision; every write bumps it, which serializes writes in commit order.
      CREATE TABLE rc_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL
      );
      INSERT INTO rc_meta (id, revision) VALUES (1, 0);

      CREATE TABLE flags (
        key TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        revision INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE evaluators (
        name TEXT PRIMARY KEY,
        logic TEXT NOT NULL,
        revision INTEGER NOT NULL
      );

      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('admin', 'client')),
        environment TEXT,
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      );

      CREATE TABLE audit (
        revision INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        entity_key TEXT NOT NULL,
        action TEXT NOT NULL,
        before TEXT,
        after TEXT
      );
      CREATE INDEX audit_entity_idx ON audit (entity_type, entity_key);
      CREATE INDEX audit_actor_idx ON audit (actor);
      CREATE INDEX audit_at_idx ON audit (at);
    `,
    postgres: `
      -- One row holding the global revision; every write bumps it, which serializes writes in commit order.
      CREATE TABLE rc_meta (
        id integer PRIMARY KEY CHECK (id = 1),
        revision bigint NOT NULL
      );
      INSERT INTO rc_meta (id, revision) VALUES (1, 0);

      CREATE TABLE flags (
        key text PRIMARY KEY,
        definition jsonb NOT NULL,
        revision bigint NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );

      CREATE TABLE evaluators (
        name text PRIMARY KEY,
        logic jsonb NOT NULL,
        revision bigint NOT NULL
      );

      CREATE TABLE tokens (
        id text PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('admin', 'client')),
        environment text,
        hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz
      );

      CREATE TABLE audit (
        revision bigint PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        entity_type text NOT NULL,
        entity_key text NOT NULL,
        action text NOT NULL,
        before jsonb,
        after jsonb
      );
      CREATE INDEX audit_entity_idx ON audit (entity_type, entity_key);
      CREATE INDEX audit_actor_idx ON audit (actor);
      CREATE INDEX audit_at_idx ON audit (at);
    `,
  },
  {
    version: 2,
    name: 'canary runs and decisions',
    // Canary state is not part of the flag revision stream (replicas do not sync it through changesSince): each
    // run row carries its own revision for optimistic concurrency, and its decisions are its history.
    sqlite: `
      CREATE TABLE canaries (
        service TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        revision INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE canary_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        run_id TEXT NOT NULL,
        at TEXT NOT NULL,
        decision TEXT NOT NULL
      );
      CREATE INDEX canary_decisions_run_idx ON canary_decisions (service, run_id, id);
    `,
    postgres: `
      CREATE TABLE canaries (
        service text PRIMARY KEY,
        state jsonb NOT NULL,
        revision bigint NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE canary_decisions (
        id bigserial PRIMARY KEY,
        service text NOT NULL,
        run_id text NOT NULL,
        at timestamptz NOT NULL,
        decision jsonb NOT NULL
      );
      CREATE INDEX canary_decisions_run_idx ON canary_decisions (service, run_id, id);
    `,
  },
  {
    version: 3,
    name: 'replica presence',
    // Each replica's report of the clients connected to it, so that any replica can list every client. Not part of
    // the revision stream; a row whose replica stopped reporting expires.
    sqlite: `
      CREATE TABLE replica_presence (
        replica_id TEXT PRIMARY KEY,
        report TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
    postgres: `
      CREATE TABLE replica_presence (
        replica_id text PRIMARY KEY,
        report jsonb NOT NULL,
        expires_at bigint NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'client token flag set',
    // A client token may be limited to one flag set (flagd flagSetId); NULL, as every existing token has: all flags.
    sqlite: `
      ALTER TABLE tokens ADD COLUMN flag_set TEXT;
    `,
    postgres: `
      ALTER TABLE tokens ADD COLUMN flag_set text;
    `,
  },
  {
    // Version 5: added alongside version 4 (client token flag set); pending steps are applied sorted.
    version: 5,
    name: 'secret rotations',
    // Rotation states (steps, versions, actor, times, reasons — never a value) shared by every replica, so one
    // rotation per bundle holds across replicas and a failed one can be resumed or rolled back from any of them.
    // Not part of the revision stream; the rotation steps' audit records go to `audit` (entity_type 'secret').
    // `started_at` is the state's ISO text (ordering by it is chronological); `updated_at` is the heartbeat in ms.
    sqlite: `
      CREATE TABLE secret_rotations (
        id TEXT PRIMARY KEY,
        bundle TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        state TEXT NOT NULL
      );
      CREATE INDEX secret_rotations_bundle_idx ON secret_rotations (bundle, status);
    `,
    postgres: `
      CREATE TABLE secret_rotations (
        id text PRIMARY KEY,
        bundle text NOT NULL,
        status text NOT NULL,
        started_at text NOT NULL,
        updated_at bigint NOT NULL,
        state jsonb NOT NULL
      );
      CREATE INDEX secret_rotations_bundle_idx ON secret_rotations (bundle, status);
    `,
  },
];

/** Arbitrary but fixed: every replica must contend for the same advisory lock (advisory locks are per database). */
const MIGRATION_LOCK_KEY = 7_215_530_018_421;

/**
 * Applies pending migrations in one IMMEDIATE transaction: the write lock is taken before reading
 * `schema_migrations`, so two processes opening the same file cannot both apply a step.
 */
export function migrateSqlite(db: Database, migrations: readonly Migration[] = MIGRATIONS): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of sortedPending(migrations, applied)) {
      db.exec(migration.sqlite);
      record.run(migration.version, migration.name, new Date().toISOString());
    }
  }).immediate();
}

/**
 * Applies pending migrations in one transaction holding a transaction-scoped advisory lock, taken before
 * `schema_migrations` is even created, so replicas starting together apply each step exactly once.
 */
export async function migratePostgres(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const migration of sortedPending(migrations, applied)) {
      await client.query(migration.postgres);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
  });
}

function sortedPending(migrations: readonly Migration[], applied: Set<number>): Migration[] {
  return migrations.filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
}
