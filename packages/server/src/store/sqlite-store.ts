import type { Flag, JsonObject } from '@runtime-control/core';
import Database from 'better-sqlite3';
import { AppError } from '../errors/app-error.js';
import { migrateSqlite } from './migrations.js';
import type {
  Actor,
  AuditAction,
  AuditQuery,
  AuditRecord,
  CanaryDecisionInput,
  EntityType,
  FlagMutation,
  NewToken,
  ReplaceOptions,
  SecretAuditInput,
  Store,
  StoredCanary,
  StoredEvaluator,
  StoredFlag,
  StoredSecretRotation,
  StoredToken,
  WriteOptions,
  WriteResult,
} from './store.js';
import {
  assertDistinctKeys,
  assertSameKey,
  auditLimit,
  checkRevision,
  copyJson,
  isoTime,
  jsonOrNull,
  parsePresenceReport,
  parseStoredJson,
  readStoredFlag,
  tokenMetadata,
} from './store-rules.js';

/**
 * The embedded store. better-sqlite3 is synchronous, so each method runs its whole transaction without yielding:
 * writes inside one process are serialized for free. Writes use BEGIN IMMEDIATE so that several processes sharing
 * the file also serialize (waiting up to `busy_timeout`) instead of failing on a lock upgrade.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.db);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async currentRevision(): Promise<number> {
    return (this.statement('SELECT revision FROM rc_meta WHERE id = 1').get() as { revision: number }).revision;
  }

  async listFlags(): Promise<StoredFlag[]> {
    return (this.statement('SELECT * FROM flags ORDER BY key').all() as FlagRow[]).map(toStoredFlag);
  }

  async getFlag(key: string): Promise<StoredFlag | undefined> {
    const row = this.selectFlag(key);
    return row && toStoredFlag(row);
  }

  async createFlag(flag: Flag, actor: Actor): Promise<StoredFlag> {
    const stored = copyJson(flag);
    return this.write(() => {
      if (this.selectFlag(flag.key)) throw new AppError('FLAG_EXISTS', `flag "${flag.key}" already exists`);
      const now = new Date().toISOString();
      const revision = this.appendAudit(now, actor, 'flag', flag.key, 'create', null, stored);
      this.statement(
        'INSERT INTO flags (key, definition, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ).run(flag.key, JSON.stringify(stored), revision, now, now);
      return { flag: stored, revision, createdAt: now, updatedAt: now };
    });
  }

  async createFlags(flags: readonly Flag[], actor: Actor): Promise<{ created: StoredFlag[]; existing: string[] }> {
    assertDistinctKeys(flags);
    const copies = flags.map((f) => copyJson(f));
    return this.write(() => {
      const created: StoredFlag[] = [];
      const existing: string[] = [];
      const now = new Date().toISOString();
      for (const stored of copies) {
        if (this.selectFlag(stored.key)) {
          existing.push(stored.key);
          continue;
        }
        const revision = this.appendAudit(now, actor, 'flag', stored.key, 'create', null, stored);
        this.statement(
          'INSERT INTO flags (key, definition, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
        ).run(stored.key, JSON.stringify(stored), revision, now, now);
        created.push({ flag: stored, revision, createdAt: now, updatedAt: now });
      }
      return { created, existing };
    });
  }

  async replaceFlag(key: string, flag: Flag, actor: Actor, options: ReplaceOptions = {}): Promise<StoredFlag> {
    assertSameKey(key, flag);
    const stored = copyJson(flag);
    return this.write(() => this.overwriteFlag(this.lockedFlag(key, options), stored, actor, options.action));
  }

  async updateFlag(key: string, mutate: FlagMutation, actor: Actor, options: WriteOptions = {}): Promise<StoredFlag> {
    return this.write(() => {
      const current = this.lockedFlag(key, options);
      const next = copyJson(mutate(copyJson(current.flag)));
      assertSameKey(key, next);
      return this.overwriteFlag(current, next, actor);
    });
  }

  async deleteFlag(key: string, actor: Actor, options: WriteOptions = {}): Promise<WriteResult> {
    return this.write(() => {
      const current = this.lockedFlag(key, options);
      this.statement('DELETE FROM flags WHERE key = ?').run(key);
      const revision = this.appendAudit(new Date().toISOString(), actor, 'flag', key, 'delete', current.flag, null);
      return { revision };
    });
  }

  async listEvaluators(): Promise<StoredEvaluator[]> {
    return (this.statement('SELECT * FROM evaluators ORDER BY name').all() as EvaluatorRow[]).map(toStoredEvaluator);
  }

  async getEvaluator(name: string): Promise<StoredEvaluator | undefined> {
    const row = this.selectEvaluator(name);
    return row && toStoredEvaluator(row);
  }

  async putEvaluator(
    name: string,
    logic: JsonObject,
    actor: Actor,
    options: WriteOptions = {},
  ): Promise<StoredEvaluator> {
    const stored = copyJson(logic);
    return this.write(() => {
      const row = this.selectEvaluator(name);
      const current = row && toStoredEvaluator(row);
      checkRevision(`evaluator "${name}"`, current?.revision, options);
      const revision = this.appendAudit(
        new Date().toISOString(),
        actor,
        'evaluator',
        name,
        current ? 'update' : 'create',
        current ? { name, logic: current.logic } : null,
        { name, logic: stored },
      );
      this.statement(
        `INSERT INTO evaluators (name, logic, revision) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET logic = excluded.logic, revision = excluded.revision`,
      ).run(name, JSON.stringify(stored), revision);
      return { name, logic: stored, revision };
    });
  }

  async deleteEvaluator(name: string, actor: Actor, options: WriteOptions = {}): Promise<WriteResult> {
    return this.write(() => {
      const row = this.selectEvaluator(name);
      if (!row) throw new AppError('EVALUATOR_NOT_FOUND', `evaluator "${name}" not found`);
      const current = toStoredEvaluator(row);
      checkRevision(`evaluator "${name}"`, current.revision, options);
      this.statement('DELETE FROM evaluators WHERE name = ?').run(name);
      const revision = this.appendAudit(
        new Date().toISOString(),
        actor,
        'evaluator',
        name,
        'delete',
        { name, logic: current.logic },
        null,
      );
      return { revision };
    });
  }

  async createToken(token: NewToken, actor: Actor): Promise<StoredToken> {
    return this.write(() => {
      const stored: StoredToken = {
        id: token.id,
        name: token.name,
        kind: token.kind,
        environment: token.environment,
        flagSet: token.flagSet ?? null,
        hash: token.hash,
        createdAt: new Date().toISOString(),
        revokedAt: null,
      };
      this.statement(
        'INSERT INTO tokens (id, name, kind, environment, flag_set, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
      ).run(stored.id, stored.name, stored.kind, stored.environment, stored.flagSet, stored.hash, stored.createdAt);
      this.appendAudit(stored.createdAt, actor, 'token', stored.id, 'create', null, tokenMetadata(stored));
      return stored;
    });
  }

  async listTokens(): Promise<StoredToken[]> {
    return (this.statement('SELECT * FROM tokens ORDER BY created_at, id').all() as TokenRow[]).map(toStoredToken);
  }

  async getToken(id: string): Promise<StoredToken | undefined> {
    const row = this.selectToken(id);
    return row && toStoredToken(row);
  }

  async revokeToken(id: string, actor: Actor): Promise<StoredToken> {
    return this.write(() => {
      const row = this.selectToken(id);
      if (!row) throw new AppError('TOKEN_NOT_FOUND', `token "${id}" not found`);
      const current = toStoredToken(row);
      if (current.revokedAt !== null) return current;
      const revoked: StoredToken = { ...current, revokedAt: new Date().toISOString() };
      this.statement('UPDATE tokens SET revoked_at = ? WHERE id = ?').run(revoked.revokedAt, id);
      this.appendAudit(
        revoked.revokedAt!,
        actor,
        'token',
        id,
        'revoke',
        tokenMetadata(current),
        tokenMetadata(revoked),
      );
      return revoked;
    });
  }

  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const conditions: string[] = [];
    const params: (string | number)[] = [];
    if (query.entityType !== undefined) {
      conditions.push('entity_type = ?');
      params.push(query.entityType);
    }
    if (query.entityKey !== undefined) {
      conditions.push('entity_key = ?');
      params.push(query.entityKey);
    }
    if (query.actor !== undefined) {
      conditions.push('actor = ?');
      params.push(query.actor);
    }
    // Stored times are all `toISOString()` output, so normalizing the bounds makes text comparison chronological.
    if (query.since !== undefined) {
      conditions.push('at >= ?');
      params.push(isoTime(query.since, 'since'));
    }
    if (query.until !== undefined) {
      conditions.push('at <= ?');
      params.push(isoTime(query.until, 'until'));
    }
    if (query.beforeRevision !== undefined) {
      conditions.push('revision < ?');
      params.push(query.beforeRevision);
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    params.push(auditLimit(query.limit));
    const rows = this.db
      .prepare(`SELECT * FROM audit ${where} ORDER BY revision DESC LIMIT ?`)
      .all(...params) as AuditRow[];
    return rows.map(toAuditRecord);
  }

  async changesSince(revision: number): Promise<{ revision: number; entityType: EntityType; entityKey: string }[]> {
    const rows = this.statement(
      'SELECT revision, entity_type, entity_key FROM audit WHERE revision > ? ORDER BY revision',
    ).all(revision) as Pick<AuditRow, 'revision' | 'entity_type' | 'entity_key'>[];
    return rows.map((r) => ({ revision: r.revision, entityType: r.entity_type, entityKey: r.entity_key }));
  }

  async appendSecretAudit(input: SecretAuditInput): Promise<AuditRecord> {
    const at = isoTime(input.at, 'at');
    const details = copyJson(input.details);
    const revision = this.write(() =>
      this.appendAudit(at, input.actor, 'secret', input.bundle, input.action, null, details),
    );
    return {
      revision,
      at,
      actor: input.actor.name,
      entityType: 'secret',
      entityKey: input.bundle,
      action: input.action,
      before: null,
      after: details,
    };
  }

  async claimSecretRotation(rotation: StoredSecretRotation, staleBefore: number, now: number): Promise<boolean> {
    // BEGIN IMMEDIATE takes the write lock before the check, so two processes sharing the file cannot both pass it.
    return this.write(() => {
      const holder = this.statement(
        "SELECT id FROM secret_rotations WHERE bundle = ? AND status = 'running' AND id <> ? AND updated_at > ?",
      ).get(rotation.bundle, rotation.id, staleBefore);
      if (holder) return false;
      this.upsertSecretRotation({ ...rotation, status: 'running' }, now);
      return true;
    });
  }

  async saveSecretRotation(rotation: StoredSecretRotation, now: number): Promise<void> {
    this.upsertSecretRotation(rotation, now);
  }

  async getSecretRotation(id: string): Promise<StoredSecretRotation | undefined> {
    const row = this.statement('SELECT * FROM secret_rotations WHERE id = ?').get(id) as SecretRotationRow | undefined;
    return row && toStoredSecretRotation(row);
  }

  async listSecretRotations(bundle?: string): Promise<StoredSecretRotation[]> {
    const rows = (
      bundle === undefined
        ? this.statement('SELECT * FROM secret_rotations ORDER BY started_at DESC, id DESC').all()
        : this.statement('SELECT * FROM secret_rotations WHERE bundle = ? ORDER BY started_at DESC, id DESC').all(
            bundle,
          )
    ) as SecretRotationRow[];
    return rows.map(toStoredSecretRotation);
  }

  async putPresence(replicaId: string, report: JsonObject, expiresAt: number): Promise<void> {
    this.statement(
      `INSERT INTO replica_presence (replica_id, report, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (replica_id) DO UPDATE SET report = excluded.report, expires_at = excluded.expires_at`,
    ).run(replicaId, JSON.stringify(report), expiresAt);
  }

  async listPresence(now: number): Promise<{ replicaId: string; report: JsonObject }[]> {
    this.statement('DELETE FROM replica_presence WHERE expires_at <= ?').run(now);
    const rows = this.statement('SELECT replica_id, report FROM replica_presence ORDER BY replica_id').all() as {
      replica_id: string;
      report: string;
    }[];
    return rows.flatMap((r) => {
      const report = parsePresenceReport(r.report);
      return report ? [{ replicaId: r.replica_id, report }] : [];
    });
  }

  async deletePresence(replicaId: string): Promise<void> {
    this.statement('DELETE FROM replica_presence WHERE replica_id = ?').run(replicaId);
  }

  async listCanaries(): Promise<StoredCanary[]> {
    return (this.statement('SELECT * FROM canaries ORDER BY service').all() as CanaryRow[]).map(toStoredCanary);
  }

  async getCanary(service: string): Promise<StoredCanary | undefined> {
    const row = this.statement('SELECT * FROM canaries WHERE service = ?').get(service) as CanaryRow | undefined;
    return row && toStoredCanary(row);
  }

  async saveCanary(
    service: string,
    state: JsonObject,
    decision: CanaryDecisionInput | undefined,
    expectedRevision: number | null,
  ): Promise<StoredCanary> {
    return this.write(() => {
      const row = this.statement('SELECT revision FROM canaries WHERE service = ?').get(service) as
        | { revision: number }
        | undefined;
      if ((row?.revision ?? null) !== expectedRevision) {
        throw new AppError(
          'PRECONDITION_FAILED',
          `canary "${service}" is at revision ${row?.revision ?? 'none'}, not ${expectedRevision ?? 'none'}`,
        );
      }
      const revision = (row?.revision ?? 0) + 1;
      const now = new Date().toISOString();
      this.statement(
        `INSERT INTO canaries (service, state, revision, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (service) DO UPDATE SET state = excluded.state, revision = excluded.revision, updated_at = excluded.updated_at`,
      ).run(service, JSON.stringify(state), revision, now);
      if (decision) {
        this.statement('INSERT INTO canary_decisions (service, run_id, at, decision) VALUES (?, ?, ?, ?)').run(
          service,
          decision.runId,
          decision.at,
          JSON.stringify(decision.decision),
        );
      }
      return { service, state: copyJson(state), revision, updatedAt: now };
    });
  }

  async listCanaryDecisions(service: string, runId: string, limit = 1000): Promise<JsonObject[]> {
    const rows = this.statement(
      'SELECT decision FROM canary_decisions WHERE service = ? AND run_id = ? ORDER BY id DESC LIMIT ?',
    ).all(service, runId, Math.max(1, Math.trunc(limit))) as { decision: string }[];
    return rows.reverse().map((r) => JSON.parse(r.decision) as JsonObject);
  }

  /** Runs `work` in a BEGIN IMMEDIATE transaction; a throw rolls everything back and is rethrown. */
  private write<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Bumps the global revision and records the change; returns the new revision. Call only inside `write`. */
  private appendAudit(
    at: string,
    actor: Actor,
    entityType: EntityType,
    entityKey: string,
    action: AuditAction,
    before: unknown,
    after: unknown,
  ): number {
    const { revision } = this.statement(
      'UPDATE rc_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision',
    ).get() as {
      revision: number;
    };
    this.statement(
      'INSERT INTO audit (revision, at, actor, entity_type, entity_key, action, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(revision, at, actor.name, entityType, entityKey, action, jsonOrNull(before), jsonOrNull(after));
    return revision;
  }

  private upsertSecretRotation(rotation: StoredSecretRotation, now: number): void {
    this.statement(
      `INSERT INTO secret_rotations (id, bundle, status, started_at, updated_at, state) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, state = excluded.state`,
    ).run(rotation.id, rotation.bundle, rotation.status, rotation.startedAt, now, JSON.stringify(rotation.state));
  }

  private selectFlag(key: string): FlagRow | undefined {
    return this.statement('SELECT * FROM flags WHERE key = ?').get(key) as FlagRow | undefined;
  }

  private selectEvaluator(name: string): EvaluatorRow | undefined {
    return this.statement('SELECT * FROM evaluators WHERE name = ?').get(name) as EvaluatorRow | undefined;
  }

  private selectToken(id: string): TokenRow | undefined {
    return this.statement('SELECT * FROM tokens WHERE id = ?').get(id) as TokenRow | undefined;
  }

  /** The current flag, checked for existence and the `ifRevision` precondition. Call only inside `write`. */
  private lockedFlag(key: string, options: WriteOptions): StoredFlag {
    const row = this.selectFlag(key);
    if (!row) throw new AppError('FLAG_NOT_FOUND', `flag "${key}" not found`);
    const current = toStoredFlag(row);
    checkRevision(`flag "${key}"`, current.revision, options);
    return current;
  }

  private overwriteFlag(
    current: StoredFlag,
    next: Flag,
    actor: Actor,
    action: 'update' | 'revert' = 'update',
  ): StoredFlag {
    const now = new Date().toISOString();
    const revision = this.appendAudit(now, actor, 'flag', next.key, action, current.flag, next);
    this.statement('UPDATE flags SET definition = ?, revision = ?, updated_at = ? WHERE key = ?').run(
      JSON.stringify(next),
      revision,
      now,
      next.key,
    );
    return { flag: next, revision, createdAt: current.createdAt, updatedAt: now };
  }
}

/** Opens (creating if needed) the database at `path` (or `:memory:`) and applies pending migrations. */
export async function createSqliteStore(path: string): Promise<Store> {
  const store = new SqliteStore(path);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

interface FlagRow {
  key: string;
  definition: string;
  revision: number;
  created_at: string;
  updated_at: string;
}

interface EvaluatorRow {
  name: string;
  logic: string;
  revision: number;
}

interface TokenRow {
  id: string;
  name: string;
  kind: StoredToken['kind'];
  environment: string | null;
  flag_set: string | null;
  hash: string;
  created_at: string;
  revoked_at: string | null;
}

interface AuditRow {
  revision: number;
  at: string;
  actor: string;
  entity_type: EntityType;
  entity_key: string;
  action: AuditAction;
  before: string | null;
  after: string | null;
}

interface SecretRotationRow {
  id: string;
  bundle: string;
  status: string;
  started_at: string;
  state: string;
}

function toStoredSecretRotation(row: SecretRotationRow): StoredSecretRotation {
  return {
    id: row.id,
    bundle: row.bundle,
    status: row.status,
    startedAt: row.started_at,
    state: JSON.parse(row.state) as JsonObject,
  };
}

interface CanaryRow {
  service: string;
  state: string;
  revision: number;
  updated_at: string;
}

function toStoredCanary(row: CanaryRow): StoredCanary {
  return {
    service: row.service,
    state: JSON.parse(row.state) as JsonObject,
    revision: row.revision,
    updatedAt: row.updated_at,
  };
}

function toStoredFlag(row: FlagRow): StoredFlag {
  const read = readStoredFlag(row.key, parseStoredJson(row.definition));
  const stored: StoredFlag = {
    flag: read.flag,
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (read.unreadable) stored.unreadable = read.unreadable;
  return stored;
}

function toStoredEvaluator(row: EvaluatorRow): StoredEvaluator {
  const parsed = parseStoredJson(row.logic);
  const stored: StoredEvaluator = {
    name: row.name,
    logic: (parsed.ok ? parsed.value : {}) as JsonObject,
    revision: row.revision,
  };
  if (!parsed.ok) stored.unreadable = parsed.problem;
  return stored;
}

function toStoredToken(row: TokenRow): StoredToken {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    environment: row.environment,
    flagSet: row.flag_set,
    hash: row.hash,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    revision: row.revision,
    at: row.at,
    actor: row.actor,
    entityType: row.entity_type,
    entityKey: row.entity_key,
    action: row.action,
    before: row.before === null ? null : JSON.parse(row.before),
    after: row.after === null ? null : JSON.parse(row.after),
  };
}
