import Database from 'better-sqlite3';
import { RotationInProgressError, type RotationState, type RotationStore } from './rotation.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rc_secret_rotations (
  id TEXT PRIMARY KEY,
  bundle TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rc_secret_rotations_bundle ON rc_secret_rotations (bundle, status);
`;

/**
 * Rotation states in SQLite (its own file, or tables added to an open database — the local secrets store's or the
 * server's). `claim` runs in an immediate transaction, so of two processes starting a rotation of one bundle at the
 * same moment exactly one proceeds. States hold versions, steps, times and reasons, never a value.
 */
export class SqliteRotationStore implements RotationStore {
  private readonly db: Database.Database;
  private readonly ownsDb: boolean;

  constructor(
    database: string | Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    this.ownsDb = typeof database === 'string';
    this.db = typeof database === 'string' ? new Database(database) : database;
    if (this.ownsDb) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
    }
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }

  async claim(state: RotationState, staleAfterMs: number): Promise<void> {
    const now = this.now();
    this.db
      .transaction(() => {
        const holder = this.db
          .prepare(
            "SELECT id FROM rc_secret_rotations WHERE bundle = ? AND status = 'running' AND id <> ? AND updated_at > ?",
          )
          .get(state.bundle, state.id, now - staleAfterMs);
        if (holder) throw new RotationInProgressError(state.bundle);
        this.upsert({ ...state, status: 'running' }, now);
      })
      .immediate();
  }

  async save(state: RotationState): Promise<void> {
    this.upsert(state, this.now());
  }

  async get(id: string): Promise<RotationState | undefined> {
    const row = this.db.prepare('SELECT state FROM rc_secret_rotations WHERE id = ?').get(id) as
      | { state: string }
      | undefined;
    return row && (JSON.parse(row.state) as RotationState);
  }

  async list(bundle?: string): Promise<RotationState[]> {
    const rows = (
      bundle === undefined
        ? this.db.prepare('SELECT state FROM rc_secret_rotations ORDER BY started_at DESC, rowid DESC').all()
        : this.db
            .prepare('SELECT state FROM rc_secret_rotations WHERE bundle = ? ORDER BY started_at DESC, rowid DESC')
            .all(bundle)
    ) as { state: string }[];
    return rows.map((r) => JSON.parse(r.state) as RotationState);
  }

  private upsert(state: RotationState, now: number): void {
    this.db
      .prepare(
        `INSERT INTO rc_secret_rotations (id, bundle, status, started_at, updated_at, state) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, state = excluded.state`,
      )
      .run(state.id, state.bundle, state.status, state.startedAt, now, JSON.stringify(state));
  }
}
