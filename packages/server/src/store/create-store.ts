import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createPostgresStore } from './postgres-store.js';
import { createSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export const SQLITE_FILE_NAME = 'runtime-control.db';

/**
 * Opens the configured store and applies pending migrations.
 * - `postgres://…` / `postgresql://…`: PostgreSQL.
 * - `sqlite::memory:`: an in-memory SQLite database (tests, throwaway demos).
 * - `sqlite:///abs/path.db` (or `sqlite:relative/path.db`): a SQLite file at that path.
 * - unset: the embedded SQLite file `runtime-control.db` in `dataDir`.
 */
export async function createStore(databaseUrl: string | undefined, dataDir: string): Promise<Store> {
  if (databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl)) return createPostgresStore(databaseUrl);
  const path = sqlitePath(databaseUrl, dataDir);
  if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
  return createSqliteStore(path);
}

/** The SQLite path a database URL names; exported so callers can log where the data lives. */
export function sqlitePath(databaseUrl: string | undefined, dataDir: string): string {
  if (!databaseUrl) return join(dataDir, SQLITE_FILE_NAME);
  if (databaseUrl === 'sqlite::memory:' || databaseUrl === 'sqlite://:memory:') return ':memory:';
  const match = /^sqlite:(?:\/\/)?(.+)$/.exec(databaseUrl);
  // Config validation rejects other schemes; refusing here too keeps a typo from silently creating a SQLite file.
  if (!match) {
    throw new Error(`unsupported database URL "${redact(databaseUrl)}": use postgres://, postgresql:// or sqlite:`);
  }
  return match[1]!;
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
